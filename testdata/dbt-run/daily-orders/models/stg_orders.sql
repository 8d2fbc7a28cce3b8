select 1 as order_id, date '2026-01-02' as day
