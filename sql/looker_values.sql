-- One value per Looker key result from the cells looker_selected keeps: the aggregate the
-- job asks for (`single` wants exactly one number), times 100 for format = 'percentage';
-- or the reason there is no value. Null cells are skipped and counted; a cell that is not a
-- number is an error naming the field. A selection that answers with nothing for the date
-- (no bucket yet on a time x-axis, a result with no rows, only null cells) is not an error:
-- no value and a `note` saying why (`no_data`).
WITH choices AS (
    SELECT * FROM looker_choices
),

selected AS (
    SELECT kr_id, row_index, x, measure, value, cell
    FROM looker_selected
),

stats AS (
    SELECT
        kr_id,
        count(*) AS cells,
        count(value) AS numbers,
        count(*) - count(cell) AS nulls,
        sum(value) AS total,
        avg(value) AS mean,
        min(value) AS smallest,
        max(value) AS largest,
        min(CASE WHEN cell IS NOT NULL AND value IS NULL THEN row_index END) AS bad_row
    FROM selected
    GROUP BY kr_id
),

bad_cells AS (
    -- The first cell that is not a number.
    SELECT s.kr_id, min(s.measure) AS bad_field, min(s.cell) AS bad_cell, min(s.x) AS bad_x
    FROM selected AS s
    INNER JOIN stats AS t ON t.kr_id = s.kr_id AND t.bad_row = s.row_index
    WHERE s.cell IS NOT NULL AND s.value IS NULL
    GROUP BY s.kr_id
),

pivot_values AS (
    SELECT p.kr_id, array_to_string(array_agg(DISTINCT p.value), ', ') AS pivot_values
    FROM looker_pivots AS p
    INNER JOIN choices AS c ON c.kr_id = p.kr_id AND p.field = c.pivot_field
    GROUP BY p.kr_id
),

checked AS (
    SELECT
        c.kr_id,
        c.aggregate,
        c.format,
        coalesce(t.cells, 0) AS cells,
        coalesce(t.numbers, 0) AS numbers,
        coalesce(t.nulls, 0) AS nulls,
        t.total,
        t.mean,
        t.smallest,
        t.largest,
        CASE
            WHEN c.reconstructed AND NOT c.x_is_time
                THEN 'not reconstructible for ' || CAST(c.eval_date AS VARCHAR)
                    || ': the result has no time x-axis and no raw archive of that day holds it '
                    || '(Looker gives only today''s value)'
            WHEN NOT c.measure_known
                THEN 'measure `' || c.measure || '` is not in the result (measures: '
                    || c.measure_names || ')'
            WHEN c.measure_field IS NULL AND c.measure_count = 0
                THEN 'the result has no numeric measure'
            WHEN c.measure_field IS NULL
                THEN 'the result has ' || c.measure_count || ' measures (' || c.measure_names
                    || '); choose one with measure = "…"'
            WHEN NOT c.pivot_known
                THEN 'pivot `' || c.pivot_field || '` is not a pivot of the result (pivots: '
                    || CASE WHEN c.pivot_names = '' THEN 'none' ELSE c.pivot_names END || ')'
            WHEN c.unknown_filter IS NOT NULL
                THEN 'filter field `' || c.unknown_filter
                    || '` is not a dimension of the result (dimensions: ' || c.dimension_names || ')'
            WHEN c.x_mode = 'latest' AND c.x_field IS NOT NULL AND NOT c.x_is_time
                THEN 'x = "latest" needs a time x-axis, and `' || c.x_field
                    || '` is not one; use x = "all" or one of its values'
            WHEN b.bad_cell IS NOT NULL
                THEN 'field `' || b.bad_field || '` has a value that is not a number: `'
                    || b.bad_cell || '`' || coalesce(' (x = ' || b.bad_x || ')', '')
            WHEN coalesce(t.cells, 0) = 0 AND c.pivot_field IS NOT NULL
                THEN 'no cell selected: pivot `' || c.pivot_field || '` has no column `'
                    || c.pivot_value || '` with the filters given (columns: '
                    || coalesce(v.pivot_values, 'none') || ')'
            WHEN coalesce(t.cells, 0) = 0 AND c.x_mode = 'value'
                THEN 'no cell selected: no row has ' || coalesce(c.x_field, 'an x-axis') || ' = `' || c.x_value || '`'
            WHEN c.aggregate = 'single' AND t.numbers > 1
                THEN t.numbers || ' values selected; set aggregate (sum, avg, count, min or max) '
                    || 'or narrow the selection with x, pivot or filter'
        END AS error,
        CASE
            WHEN coalesce(t.cells, 0) = 0 AND c.x_is_time
                THEN 'no data yet: no ' || c.x_field || ' bucket starts on or before '
                    || CAST(c.eval_date AS VARCHAR)
            WHEN coalesce(t.cells, 0) = 0
                THEN 'no data yet: the result has no rows matching the selection'
            WHEN t.numbers = 0
                THEN 'no data yet: the ' || t.cells || ' selected cell(s) are all null'
        END AS no_data
    FROM choices AS c
    LEFT JOIN stats AS t ON t.kr_id = c.kr_id
    LEFT JOIN bad_cells AS b ON b.kr_id = c.kr_id
    LEFT JOIN pivot_values AS v ON v.kr_id = c.kr_id
),

aggregated AS (
    SELECT
        kr_id,
        format,
        cells,
        nulls,
        error,
        no_data,
        CASE aggregate
            WHEN 'sum' THEN total
            WHEN 'avg' THEN mean
            WHEN 'count' THEN CAST(numbers AS DOUBLE)
            WHEN 'min' THEN smallest
            WHEN 'max' THEN largest
            ELSE total
        END AS value
    FROM checked
),

final AS (
    SELECT
        kr_id,
        CASE
            WHEN error IS NOT NULL OR no_data IS NOT NULL THEN CAST(NULL AS DOUBLE)
            -- okrflow's own arithmetic: 12 significant digits, without float noise
            WHEN format = 'percentage' THEN round_significant(value * 100.0, 12)
            ELSE value
        END AS value,
        error,
        CASE
            WHEN error IS NOT NULL THEN NULL
            WHEN no_data IS NOT NULL THEN no_data
            WHEN nulls > 0 THEN cells || ' cell(s) selected, ' || nulls || ' null skipped'
        END AS note
    FROM aggregated
)

SELECT * FROM final
