select date_trunc('month', touched_at) as month, channel, sum(revenue_eur) as revenue_eur, sum(spend_eur) as spend_eur
from {{ ref('stg_touchpoints') }}
group by 1, 2
