select distinct campaign_id, customer_id, channel
from {{ ref('stg_campaign_members') }}
