select o.order_id, sum(p.amount) as amount
from {{ ref(var('staged_order')) }} o
join {{ ref('stg_payments') }} p using (order_id)
group by 1
