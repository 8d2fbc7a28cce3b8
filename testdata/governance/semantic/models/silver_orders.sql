select p.payment_id as order_id, c.country, p.amount
from {{ ref('bronze_payments') }} p
join {{ ref('bronze_customers') }} c using (customer_id)
