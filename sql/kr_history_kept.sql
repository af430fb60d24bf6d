-- kr_history_kept: the rows of kr_history (the snapshots of dates before the run's) that
-- kr_valued could still pick on a later date, per key result: the newest row, the newest good
-- row (no error; a value or no_data), the newest row with a value, and the first `done` row.
-- A later run reads these and the snapshots written since instead of every day's
-- (src/sink/history_state.rs): each of kr_valued's choices is the newest or the first of a
-- kind, so the same rows win.
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
)

SELECT * FROM final
