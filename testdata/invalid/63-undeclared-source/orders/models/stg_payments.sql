select * from {{ source('shop', 'payment') }}
