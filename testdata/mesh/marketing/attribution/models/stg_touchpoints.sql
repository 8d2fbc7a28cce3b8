select *
from {{ source('web', 'touchpoints') }}
