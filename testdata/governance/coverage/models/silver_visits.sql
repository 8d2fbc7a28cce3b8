select session_id, url as landing_url, min(viewed_at) as visited_at,
       count(*) as pages, max(viewed_at) as left_at
from {{ ref('bronze_pageviews') }}
group by 1, 2
