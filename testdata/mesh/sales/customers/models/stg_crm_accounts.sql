select *
from {{ source('crm', 'accounts') }}
