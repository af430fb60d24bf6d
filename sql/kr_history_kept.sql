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
WITH source AS (
  SELECT h.*
  FROM kr_history h
  CROSS JOIN run_info r
  WHERE CAST(h.as_of AS DATE) < r.as_of
),

kinds AS (
  SELECT *,
    error IS NULL AND (value IS NOT NULL OR status = 'no_data') AS is_good,
    value IS NOT NULL AND error IS NULL AS is_valued,
    status = 'done' AND error IS NULL AS is_done
  FROM source
),

windowed AS (
  SELECT DISTINCT k.kr_id, k.as_of, true AS in_window
  FROM kinds k
  JOIN kr_definitions d ON d.kr_id = k.kr_id
  WHERE k.is_valued AND NOT coalesce(k.stale, false)
    AND CAST(k.as_of AS DATE) >= d.window_start
    AND CAST(k.as_of AS DATE) <= greatest(d.due, d.period_end)
),

ranked AS (
  SELECT k.*, coalesce(w.in_window, false) AS in_window,
    row_number() OVER (PARTITION BY k.kr_id ORDER BY k.as_of DESC) AS newest,
    row_number() OVER (PARTITION BY k.kr_id, k.is_good ORDER BY k.as_of DESC) AS newest_good,
    row_number() OVER (PARTITION BY k.kr_id, k.is_valued ORDER BY k.as_of DESC) AS newest_valued,
    row_number() OVER (PARTITION BY k.kr_id, k.is_done ORDER BY k.as_of ASC) AS first_done
  FROM kinds k
  LEFT JOIN windowed w ON w.kr_id = k.kr_id AND w.as_of = k.as_of
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
