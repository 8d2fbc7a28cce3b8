select distinct customer_id, street
from {{ ref('bronze_retail_orders') }}
