select cast(started_at as date) as visit_date, count(*) as sessions, avg(clicks) as clicks_per_session
from {{ ref('silver_sessions') }}
group by 1
