select * from {{ ref('stg_web_orders') }}
union all
select * from {{ ref('stg_store_orders') }}
