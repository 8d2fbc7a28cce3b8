select c.counterparty_id, sum(p.notional) as exposure
from {{ ref('stg_positions') }} p
join {{ ref('stg_counterparties') }} c using (counterparty_id)
group by 1
