select record_id as account_id, payload ->> 'region' as region
from {{ ref('bronze_crm') }}
where record_type = 'account'
