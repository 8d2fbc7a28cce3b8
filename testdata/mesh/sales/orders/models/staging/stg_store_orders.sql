select *
from {{ source('pos', 'store_orders') }}
