-- checkin_errors: a key result with a check-in row that cannot be used (a value that is not a
-- number, a health that is not one of the three, a date that is not a date) fails, whatever
-- its source, once the row counts: dated on or before the key result's evaluation date, or
-- with no date that could be read. The error is the first such row's problem (it names the
-- file, line and column); rows read later do not hide it.
WITH selections AS (
  SELECT * FROM checkin_selections
),

bad AS (
  SELECT * FROM checkins
  WHERE problem IS NOT NULL
),

ranked AS (
  SELECT
    s.kr_id, b.problem,
    row_number() OVER (PARTITION BY s.kr_id ORDER BY b.connection, b.file, b.line) AS n
  FROM selections s
  JOIN bad b ON b.kr_id = s.kr_id AND (b.checked_on IS NULL OR b.checked_on <= s.eval_date)
),

final AS (
  SELECT kr_id, 'bad check-in: ' || problem AS error
  FROM ranked
  WHERE n = 1
)

SELECT * FROM final
