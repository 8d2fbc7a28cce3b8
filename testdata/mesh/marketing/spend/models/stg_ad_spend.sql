select *
from {{ source('ads', 'spend') }}
