select payment_id, customer_id, amount
from {{ source('shop', 'payment') }}
