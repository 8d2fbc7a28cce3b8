select d.stage, count(*) as deals, sum(d.amount) as amount, (select count(*) from {{ ref('silver_contacts') }}) as contacts
from {{ ref('silver_deals') }} d
group by 1
