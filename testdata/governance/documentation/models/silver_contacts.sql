select record_id as contact_id, payload ->> 'email' as email
from {{ ref('bronze_crm') }}
where record_type = 'contact'
