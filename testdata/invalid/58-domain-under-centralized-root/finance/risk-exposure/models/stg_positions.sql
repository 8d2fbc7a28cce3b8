select *
from {{ source('risk', 'positions') }}
