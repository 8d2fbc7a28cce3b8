select cast(spent_at as date) as day, channel, sum(amount_eur) as spend_eur
from {{ ref('stg_ad_spend') }}
group by 1, 2
