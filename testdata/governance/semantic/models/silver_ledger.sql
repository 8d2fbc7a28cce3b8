select account_id, amount
from {{ ref('silver_balances') }}
