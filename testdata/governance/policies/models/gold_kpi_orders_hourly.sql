select date_trunc('hour', ordered_at) as order_hour, count(*) as orders
from {{ ref('bronze_retail_orders') }}
group by 1
