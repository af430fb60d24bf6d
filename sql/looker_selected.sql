-- The cells of each Looker key result's result that its selection keeps: the chosen
-- measure, in the pivot column asked for, in rows whose dimensions equal every filter, in
-- the x-axis bucket asked for (`latest`: the newest bucket; with no x-axis, every row). On a
-- time x-axis, `latest` and `all` see only the buckets that start on or before the key
-- result's evaluation date, so a past date gets the bucket it was in; a bucket label that is
-- not a date (YYYY, YYYY-Qn, YYYY-MM, YYYY-MM-DD…) is kept.
-- looker_values aggregates them; `preview` shows them.
WITH choices AS (
    SELECT
        kr_id, x_mode, x_value, measure_field, pivot_field, pivot_value, x_field, x_is_time,
        eval_date
    FROM looker_choices
),

cells AS (
    SELECT kr_id, row_index, measure, pivot_key, value, cell
    FROM looker_rows
),

with_x AS (
    SELECT c.kr_id, c.row_index, c.measure, c.pivot_key, c.value, c.cell, d.value AS x
    FROM cells AS c
    INNER JOIN choices AS ch ON ch.kr_id = c.kr_id
    LEFT JOIN looker_dimensions AS d
        ON d.kr_id = c.kr_id AND d.row_index = c.row_index AND d.field = ch.x_field
),

bucketed AS (
    SELECT
        w.*,
        CASE
            WHEN w.x ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN try_cast(substr(w.x, 1, 10) AS DATE)
            WHEN w.x ~ '^[0-9]{4}-[0-9]{2}$' THEN try_cast(w.x || '-01' AS DATE)
            WHEN w.x ~ '^[0-9]{4}-Q[1-4]$' THEN try_cast(
                substr(w.x, 1, 4) || '-'
                    || lpad(CAST(3 * CAST(substr(w.x, 7, 1) AS INT) - 2 AS VARCHAR), 2, '0')
                    || '-01'
                AS DATE)
            WHEN w.x ~ '^[0-9]{4}$' THEN try_cast(w.x || '-01-01' AS DATE)
        END AS bucket_start
    FROM with_x AS w
),

filters_needed AS (
    SELECT kr_id, count(*) AS needed
    FROM looker_filters
    GROUP BY kr_id
),

filter_hits AS (
    SELECT d.kr_id, d.row_index, count(*) AS hits
    FROM looker_dimensions AS d
    INNER JOIN looker_filters AS f
        ON f.kr_id = d.kr_id AND f.field = d.field AND f.value = d.value
    GROUP BY d.kr_id, d.row_index
),

pivot_columns AS (
    -- The pivot columns whose value for the chosen pivot field is the one asked for.
    SELECT DISTINCT p.kr_id, p.pivot_key
    FROM looker_pivots AS p
    INNER JOIN choices AS ch
        ON ch.kr_id = p.kr_id AND p.field = ch.pivot_field AND p.value = ch.pivot_value
),

candidates AS (
    SELECT w.*, ch.x_mode, ch.x_value
    FROM bucketed AS w
    INNER JOIN choices AS ch ON ch.kr_id = w.kr_id
    LEFT JOIN filters_needed AS n ON n.kr_id = w.kr_id
    LEFT JOIN filter_hits AS h ON h.kr_id = w.kr_id AND h.row_index = w.row_index
    LEFT JOIN pivot_columns AS pc ON pc.kr_id = w.kr_id AND pc.pivot_key = w.pivot_key
    WHERE w.measure = ch.measure_field
        AND coalesce(h.hits, 0) = coalesce(n.needed, 0)
        AND (ch.pivot_field IS NULL OR pc.pivot_key IS NOT NULL)
        AND (
            ch.x_mode = 'value' OR NOT ch.x_is_time OR w.bucket_start IS NULL
            OR w.bucket_start <= ch.eval_date
        )
),

latest AS (
    SELECT kr_id, max(x) AS latest_x
    FROM candidates
    GROUP BY kr_id
),

final AS (
    SELECT c.kr_id, c.row_index, c.x, c.measure, c.pivot_key, c.value, c.cell
    FROM candidates AS c
    LEFT JOIN latest AS l ON l.kr_id = c.kr_id
    WHERE CASE c.x_mode
        WHEN 'all' THEN true
        WHEN 'value' THEN c.x = c.x_value
        ELSE c.x IS NOT DISTINCT FROM l.latest_x
    END
)

SELECT * FROM final
