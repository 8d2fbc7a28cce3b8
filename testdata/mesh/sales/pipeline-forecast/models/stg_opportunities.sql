select *
from {{ source('crm', 'opportunities') }}
