select sum(amount) as revenue
from {{ ref('bronze_retail_orders') }}
