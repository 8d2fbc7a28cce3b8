select cast(ordered_at as date) as sales_date, country, sum(amount) as revenue
from {{ ref('silver_orders_enriched') }}
group by 1, 2
