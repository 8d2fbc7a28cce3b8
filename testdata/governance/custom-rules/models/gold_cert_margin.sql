select sum(amount) * 0.3 as margin
from {{ ref('silver_owned_accounts') }}
