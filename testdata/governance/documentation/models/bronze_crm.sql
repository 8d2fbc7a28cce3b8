select record_id, record_type, payload
from {{ source('crm', 'records') }}
