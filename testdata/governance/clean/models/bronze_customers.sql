select customer_id, country
from {{ source('shop', 'customers') }}
