select account_id as deal_id, 'open' as stage, 0 as amount, current_date as close_date
from {{ ref('silver_accounts') }}
