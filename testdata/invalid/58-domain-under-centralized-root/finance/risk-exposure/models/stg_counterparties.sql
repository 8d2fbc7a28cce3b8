select *
from {{ source('risk', 'counterparties') }}
