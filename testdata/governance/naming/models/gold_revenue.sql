select c.country, sum(s.amount) as revenue
from {{ ref('fct_sales') }} s
join {{ ref('Gold_Customers') }} c using (customer_id)
group by 1
