select account_id, sum(amount) as amount
from {{ ref('bronze_keyed_events') }}
group by 1
