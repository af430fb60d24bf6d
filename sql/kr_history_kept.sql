-- kr_history_kept: the rows of kr_history (the snapshots of dates before the run's) that
-- kr_valued could still pick on a later date, per key result: the newest row, the newest good
-- row (no error; a value or no_data), the newest row with a value, and the first `done` row;
-- and the rows kr_window_history could still count (forecasts, guardrails' scores): every
-- row with a value that is not stale, dated in the window of a key result of the job from
-- its start to its due date or period's end, whichever is later.
-- A later run reads these and the snapshots written since instead of every day's
-- (src/sink/history_state.rs): each of kr_valued's choices is the newest or the first of a
-- kind, so the same rows win; the window's rows are all there. The manifest records each key
-- result's window, so a job whose windows changed reads every snapshot once.
-- (run_info, one row, comes first in its join: the side a join holds in memory is the first,
-- and kr_history may be every day's rows.)
WITH source AS (
  SELECT h.*
  FROM run_info r
  CROSS JOIN kr_history h
  WHERE CAST(h.as_of AS DATE) < r.as_of
),

kinds AS (
  SELECT s.*,
    s.error IS NULL AND (s.value IS NOT NULL OR s.status = 'no_data') AS is_good,
    s.value IS NOT NULL AND s.error IS NULL AS is_valued,
    s.status = 'done' AND s.error IS NULL AS is_done,
    coalesce(s.value IS NOT NULL AND s.error IS NULL AND NOT coalesce(s.stale, false)
      AND CAST(s.as_of AS DATE) >= d.window_start
      AND CAST(s.as_of AS DATE) <= greatest(d.due, d.period_end), false) AS in_window
  FROM source s
  LEFT JOIN kr_definitions d ON d.kr_id = s.kr_id
),

ranked AS (
  SELECT *,
    row_number() OVER (PARTITION BY kr_id ORDER BY as_of DESC) AS newest,
    row_number() OVER (PARTITION BY kr_id, is_good ORDER BY as_of DESC) AS newest_good,
    row_number() OVER (PARTITION BY kr_id, is_valued ORDER BY as_of DESC) AS newest_valued,
    row_number() OVER (PARTITION BY kr_id, is_done ORDER BY as_of ASC) AS first_done
  FROM kinds
),

final AS (
  SELECT as_of, kr_id, value, status, stale, stale_since, error, note, kr_definition_hash
  FROM ranked
  WHERE newest = 1
     OR (is_good AND newest_good = 1)
     OR (is_valued AND newest_valued = 1)
     OR (is_done AND first_done = 1)
     OR in_window
)

SELECT * FROM final
