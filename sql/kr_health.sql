-- kr_health: every key result's health as its owner last gave it, whatever its source — the
-- newest check-in with a health dated on or before the key result's evaluation date (ties:
-- the row read last: connection, then file name, then line). The computed status stays what
-- the numbers say; this is what the owner says, shown beside it.
--   health          on_track, needs_attention or at_risk
--   health_note     that check-in's note; health_on its date; health_by its author
--   health_overdue  the newest health is more than health_max_age_days (job default 35) older
--                   than the evaluation date: the monthly update was missed
-- A key result without any health check-in has no row here (health NULL, not overdue).
WITH definitions AS (
  SELECT kr_id, eval_date, health_max_age_days FROM kr_definitions
),

given AS (
  SELECT * FROM checkins
  WHERE health IS NOT NULL AND problem IS NULL
),

ranked AS (
  SELECT
    d.kr_id, d.eval_date, d.health_max_age_days,
    g.health, g.note, g.checked_on, g.author,
    row_number() OVER (
      PARTITION BY d.kr_id
      ORDER BY g.checked_on DESC, g.connection DESC, g.file DESC, g.line DESC
    ) AS n
  FROM definitions d
  JOIN given g ON g.kr_id = d.kr_id AND g.checked_on <= d.eval_date
),

final AS (
  SELECT
    kr_id,
    health,
    note AS health_note,
    checked_on AS health_on,
    author AS health_by,
    CAST(eval_date AS INT) - CAST(checked_on AS INT) > health_max_age_days AS health_overdue
  FROM ranked
  WHERE n = 1
)

SELECT * FROM final
