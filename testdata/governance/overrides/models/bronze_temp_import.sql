select order_id, total
from {{ source('legacy', 'orders') }}
