select account_id as customer_id, segment, email
from {{ ref('stg_crm_accounts') }}
