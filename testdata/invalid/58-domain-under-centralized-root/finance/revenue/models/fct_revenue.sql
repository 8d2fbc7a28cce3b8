select date_trunc('month', invoiced_at) as month, sum(amount_eur) as revenue_eur
from {{ ref('stg_invoices') }}
group by 1
