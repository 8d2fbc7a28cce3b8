select day, count(*) as orders from {{ ref('stg_orders') }} group by day
