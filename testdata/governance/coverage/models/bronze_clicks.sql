select click_id, session_id, element, clicked_at
from {{ source('web', 'clicks') }}
