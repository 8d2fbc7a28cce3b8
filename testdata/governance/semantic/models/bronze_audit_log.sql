select event_id, happened_at
from {{ source('shop', 'audit') }}
