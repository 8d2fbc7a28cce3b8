select sku, sum(amount) as revenue
from {{ ref('bronze_retail_orders') }}
group by 1
