select event_id, account_id, amount
from {{ source('app', 'events') }}
