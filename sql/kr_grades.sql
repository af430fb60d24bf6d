-- kr_grades: the grade an owner gave a key result (Viva Goals' and GitLab's closing score):
-- the newest check-in with a `score` (0 to 1) dated within the key result's period or up to
-- 30 days after its end, and on or before the run's date (ties: the row read last:
-- connection, then file name, then line). It sits beside the computed score, which it does
-- not change. A key result with no such check-in has no row here.
--   graded_score  the score given; graded_by its author; graded_note its note
WITH definitions AS (
  SELECT kr_id, period_start, period_end FROM kr_definitions
),

run AS (
  SELECT as_of FROM run_info
),

given AS (
  SELECT * FROM checkins
  WHERE score IS NOT NULL AND problem IS NULL
),

ranked AS (
  SELECT
    d.kr_id, g.score, g.author, g.note,
    row_number() OVER (
      PARTITION BY d.kr_id
      ORDER BY g.checked_on DESC, g.connection DESC, g.file DESC, g.line DESC
    ) AS n
  FROM definitions d
  CROSS JOIN run r
  JOIN given g
    ON g.kr_id = d.kr_id
   AND g.checked_on >= d.period_start
   AND CAST(g.checked_on AS INT) <= CAST(d.period_end AS INT) + 30
   AND g.checked_on <= r.as_of
),

final AS (
  SELECT kr_id, score AS graded_score, author AS graded_by, note AS graded_note
  FROM ranked
  WHERE n = 1
)

SELECT * FROM final
