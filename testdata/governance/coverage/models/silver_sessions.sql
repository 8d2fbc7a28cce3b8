select p.session_id, min(p.viewed_at) as started_at, max(p.viewed_at) as ended_at,
       count(distinct p.pageview_id) as pageviews, count(distinct c.click_id) as clicks
from {{ ref('bronze_pageviews') }} p
left join {{ ref('bronze_clicks') }} c using (session_id)
group by 1
