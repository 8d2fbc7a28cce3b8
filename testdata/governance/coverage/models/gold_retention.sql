select cast(v.visited_at as date) as cohort_date, count(distinct s.session_id) as returning_sessions
from {{ ref('silver_visits') }} v
join {{ ref('silver_sessions') }} s using (session_id)
group by 1
