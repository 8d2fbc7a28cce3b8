select order_id, customer_id, channel, amount_eur, ordered_at
from {{ ref('int_orders_unioned') }}
