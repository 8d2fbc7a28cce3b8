select distinct customer_id, email
from {{ ref('bronze_retail_orders') }}
where email is not null
