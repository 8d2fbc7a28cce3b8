select sku, count(*) as units_sold
from {{ ref('bronze_retail_orders') }}
group by 1
