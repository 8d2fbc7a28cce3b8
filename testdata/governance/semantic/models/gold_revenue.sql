select o.country, sum(o.amount) as revenue
from {{ ref('silver_orders') }} o
where o.order_id not in (select order_id from {{ ref('silver_order') }} where amount < 0)
group by 1
