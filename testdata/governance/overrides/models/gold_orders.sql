select order_id, total
from {{ ref('bronze_temp_import') }}
where total > 0
