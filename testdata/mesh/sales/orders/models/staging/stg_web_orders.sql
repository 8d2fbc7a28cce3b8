select *
from {{ source('shop', 'web_orders') }}
