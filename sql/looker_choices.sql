-- What each Looker key result's selection refers to in its tile's or look's result: the
-- measure (the one named, else the only one), the x-axis (the first time dimension, else
-- the first dimension), and the field lists that error messages name.
WITH selections AS (
    SELECT
        kr_id, x_mode, x_value, measure, pivot_field, pivot_value, aggregate, format,
        eval_date, reconstructed
    FROM looker_selections
),

fields AS (
    SELECT kr_id, field, role, is_time, position
    FROM looker_fields
),

measures AS (
    SELECT
        kr_id,
        count(*) AS measure_count,
        min(field) AS only_measure,
        array_to_string(array_agg(field ORDER BY position), ', ') AS measure_names
    FROM fields
    WHERE role = 'measure'
    GROUP BY kr_id
),

dimensions AS (
    SELECT kr_id, array_to_string(array_agg(field ORDER BY position), ', ') AS dimension_names
    FROM fields
    WHERE role = 'dimension'
    GROUP BY kr_id
),

pivots AS (
    SELECT kr_id, array_to_string(array_agg(field ORDER BY position), ', ') AS pivot_names
    FROM fields
    WHERE role = 'pivot'
    GROUP BY kr_id
),

x_ranked AS (
    SELECT
        kr_id,
        field,
        is_time,
        row_number() OVER (PARTITION BY kr_id ORDER BY is_time DESC, position) AS x_rank
    FROM fields
    WHERE role = 'dimension'
),

x_axis AS (
    SELECT kr_id, field AS x_field, is_time AS x_is_time
    FROM x_ranked
    WHERE x_rank = 1
),

unknown_filters AS (
    -- Filters on a field that is not a dimension of the result.
    SELECT f.kr_id, min(f.field) AS unknown_filter
    FROM looker_filters AS f
    LEFT JOIN fields AS d ON d.kr_id = f.kr_id AND d.field = f.field AND d.role = 'dimension'
    WHERE d.field IS NULL
    GROUP BY f.kr_id
),

final AS (
    SELECT
        s.kr_id,
        s.x_mode,
        s.x_value,
        s.measure,
        s.pivot_field,
        s.pivot_value,
        s.aggregate,
        s.format,
        s.eval_date,
        s.reconstructed,
        CASE
            WHEN s.measure IS NOT NULL THEN s.measure
            WHEN m.measure_count = 1 THEN m.only_measure
        END AS measure_field,
        s.measure IS NULL OR mf.field IS NOT NULL AS measure_known,
        s.pivot_field IS NULL OR pf.field IS NOT NULL AS pivot_known,
        coalesce(m.measure_count, 0) AS measure_count,
        coalesce(m.measure_names, '') AS measure_names,
        coalesce(d.dimension_names, '') AS dimension_names,
        coalesce(p.pivot_names, '') AS pivot_names,
        x.x_field,
        coalesce(x.x_is_time, false) AS x_is_time,
        u.unknown_filter
    FROM selections AS s
    LEFT JOIN measures AS m ON m.kr_id = s.kr_id
    LEFT JOIN dimensions AS d ON d.kr_id = s.kr_id
    LEFT JOIN pivots AS p ON p.kr_id = s.kr_id
    LEFT JOIN x_axis AS x ON x.kr_id = s.kr_id
    LEFT JOIN unknown_filters AS u ON u.kr_id = s.kr_id
    LEFT JOIN fields AS mf ON mf.kr_id = s.kr_id AND mf.field = s.measure AND mf.role = 'measure'
    LEFT JOIN fields AS pf ON pf.kr_id = s.kr_id AND pf.field = s.pivot_field AND pf.role = 'pivot'
)

SELECT * FROM final
