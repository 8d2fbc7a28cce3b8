-- The feed bucket was first read with AKIAFLOEFAKEKEY00001 (fake, never issued).
select order_id, vendor_account, amount
from {{ source('vendor', 'feed') }}
