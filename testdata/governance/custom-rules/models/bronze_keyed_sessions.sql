select session_id, channel
from {{ source('app', 'sessions') }}
