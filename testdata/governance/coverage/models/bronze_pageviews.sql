select pageview_id, session_id, url, viewed_at
from {{ source('web', 'pageviews') }}
