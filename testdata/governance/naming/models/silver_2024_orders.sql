select order_id, amount
from {{ ref('stg_orders') }}
where ordered_at >= date '2024-01-01'
