select account_id, sum(amount) as amount
from {{ ref('silver_ledger') }}
group by 1
