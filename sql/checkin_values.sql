-- checkin_values: a check-in key result's value — the newest of its check-ins with a value
-- dated on or before its value date (the evaluation date less any closing-period offset), so a backdated row counts for the date it names and
-- a backfill gives what a run on each date would have given. Ties on one date go to the row
-- read last (files in name order, then line). No such check-in yet: no value and no error
-- (`no_data`), the note says so. The note of a value names the check-in's date, author, file
-- and line. A key result with a row that cannot be used (checkin_errors) has that error and
-- no value.
WITH selections AS (
  SELECT * FROM checkin_selections
),

errors AS (
  SELECT * FROM checkin_errors
),

valued AS (
  SELECT * FROM checkins
  WHERE value IS NOT NULL AND problem IS NULL
),

ranked AS (
  SELECT
    s.kr_id, v.value, v.checked_on, v.author, v.file, v.line,
    row_number() OVER (
      PARTITION BY s.kr_id
      ORDER BY v.checked_on DESC, v.file DESC, v.line DESC
    ) AS n
  FROM selections s
  JOIN valued v ON v.kr_id = s.kr_id AND v.checked_on <= s.value_date
),

final AS (
  SELECT
    s.kr_id,
    CASE WHEN e.error IS NULL THEN k.value END AS value,
    e.error,
    CASE
      WHEN e.error IS NOT NULL THEN NULL
      WHEN k.kr_id IS NULL
        THEN 'no check-in with a value on or before ' || CAST(s.value_date AS VARCHAR)
      ELSE 'check-in of ' || CAST(k.checked_on AS VARCHAR)
           || coalesce(' by ' || k.author, '')
           || ' (' || k.file || ' line ' || CAST(k.line AS VARCHAR) || ')'
    END AS note
  FROM selections s
  LEFT JOIN (SELECT * FROM ranked WHERE n = 1) k ON k.kr_id = s.kr_id
  LEFT JOIN errors e ON e.kr_id = s.kr_id
)

SELECT * FROM final
