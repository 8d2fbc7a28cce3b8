select *
from {{ source('bronze', 'raw_customers') }}
