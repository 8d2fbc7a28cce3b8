select order_id, customer_id, email, street, ordered_at, amount, cost, returned, sku
from {{ source('pos', 'orders') }}
