select *
from {{ source('crm', 'campaign_members') }}
