select sum(amount) as revenue
from {{ ref('silver_owned_accounts') }}
