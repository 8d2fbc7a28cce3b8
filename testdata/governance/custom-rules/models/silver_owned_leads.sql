select session_id as lead_id, channel
from {{ ref('bronze_keyed_sessions') }}
