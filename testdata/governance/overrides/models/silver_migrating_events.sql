select event_id, order_id, kind, payload
from {{ source('legacy', 'events') }}
