select vendor_account, count(*) as orders, sum(amount) as amount
from {{ ref('silver_vendor_orders') }}
group by 1
