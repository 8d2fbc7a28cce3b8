select o.order_id, o.ordered_at, o.amount, c.country
from {{ ref('bronze_orders') }} o
join {{ ref('bronze_customers') }} c using (customer_id)
