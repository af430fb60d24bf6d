-- kr_window_history: the earlier days a forecast (kr_forecasts) or a guardrail's score
-- (kr_scores) counts, per key result: its snapshots of dates before the run's, inside its
-- window from `starts` up to its evaluation date, that have a value and are not stale (a
-- stale row repeats an older value; a failed row without one has none).
--   t  the days from the window's start to the end of the snapshot's date: as_of − starts + 1
WITH run AS (
  SELECT * FROM run_info
),

-- (run first: the side a join holds in memory is the first, and kr_history may be every
-- day's rows)
earlier AS (
  SELECT h.kr_id, CAST(h.as_of AS DATE) AS as_of, h.value, h.stale, h.error
  FROM run r
  CROSS JOIN kr_history h
  WHERE CAST(h.as_of AS DATE) < r.as_of
),

final AS (
  SELECT
    e.kr_id,
    e.as_of,
    CAST(e.as_of AS INT) - CAST(d.window_start AS INT) + 1 AS t,
    e.value
  FROM earlier e
  JOIN kr_definitions d ON d.kr_id = e.kr_id
  WHERE e.as_of >= d.window_start
    AND e.as_of <= d.eval_date
    AND e.value IS NOT NULL
    AND e.error IS NULL
    AND NOT coalesce(e.stale, false)
)

SELECT * FROM final
