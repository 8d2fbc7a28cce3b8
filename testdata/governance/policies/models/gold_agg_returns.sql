select sku, count(*) as returns
from {{ ref('bronze_retail_orders') }}
where returned
group by 1
