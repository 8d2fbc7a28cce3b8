select *
from {{ source('erp', 'invoices') }}
