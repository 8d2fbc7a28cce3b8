select distinct account_id as contact_id
from {{ ref('bronze_keyed_events') }}
