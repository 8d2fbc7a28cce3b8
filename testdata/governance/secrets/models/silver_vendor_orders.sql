-- Migrated from postgres://vendor_ro:floe-fake-password@db.example.invalid/vendor
select order_id, vendor_account, amount
from {{ ref('bronze_vendor_feed') }}
where amount > 0
