select stage, sum(amount) as pipeline
from {{ ref('stg_opportunities') }}
group by stage
