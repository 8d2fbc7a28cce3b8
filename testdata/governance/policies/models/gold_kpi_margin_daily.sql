select cast(ordered_at as date) as order_date, sum(amount - cost) as margin
from {{ ref('bronze_retail_orders') }}
group by 1
