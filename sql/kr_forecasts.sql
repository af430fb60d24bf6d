-- kr_forecasts: where a kpi or percent_complete key result ends at this pace. Over its
-- snapshots in its window up to the evaluation day D (kr_window_history's earlier days and
-- today's row from kr_scores) that have a value and are not stale, a straight line
-- value = a + b·t is fitted by ordinary least squares, t being the days from the window's
-- start to the end of the snapshot's date (as_of − starts + 1). With at least 3 such dates:
--   forecast_value        a + b·t_due, t_due = due − starts + 1
--   forecast_attainment   its attainment by the measure's formula: kpi (v − start) /
--                         (target − start); percent_complete v / 100
--   forecast_progress     that clipped to [0, 1]
--   forecast_points       the dates the line was fitted through
-- Only while D is inside the window (starts … due) and the period runs: milestones,
-- thresholds, aligned key results and closed periods have no row (NULL in kr_snapshots).
WITH run AS (
  SELECT * FROM run_info
),

definitions AS (
  SELECT d.*
  FROM kr_definitions d
  CROSS JOIN run r
  WHERE d.measure_kind IN ('kpi', 'percent_complete')
    AND r.as_of <= d.period_end
    AND d.eval_date >= d.window_start
    AND d.eval_date <= d.due
),

days AS (
  SELECT kr_id, CAST(t AS DOUBLE) AS t, value FROM kr_window_history
  UNION ALL
  SELECT d.kr_id, CAST(CAST(r.as_of AS INT) - CAST(d.window_start AS INT) + 1 AS DOUBLE) AS t, s.value
  FROM definitions d
  CROSS JOIN run r
  JOIN kr_scores s ON s.kr_id = d.kr_id
  WHERE s.value IS NOT NULL AND NOT s.stale
),

fitted AS (
  SELECT
    d.kr_id,
    count(*) AS points,
    regr_intercept(y.value, y.t) AS a,
    regr_slope(y.value, y.t) AS b
  FROM definitions d
  JOIN days y ON y.kr_id = d.kr_id
  GROUP BY d.kr_id
  HAVING count(*) >= 3
),

projected AS (
  SELECT
    d.kr_id,
    f.points,
    -- 12 significant digits, no float noise
    round_significant(f.a + f.b * (CAST(d.due AS INT) - CAST(d.window_start AS INT) + 1), 12)
      AS forecast_value,
    d.measure_kind,
    d.start_value,
    d.target_value
  FROM definitions d
  JOIN fitted f ON f.kr_id = d.kr_id
),

final AS (
  SELECT
    kr_id,
    forecast_value,
    attainment AS forecast_attainment,
    greatest(0.0, least(1.0, attainment)) AS forecast_progress,
    points AS forecast_points
  FROM (
    SELECT *,
      CASE measure_kind
        WHEN 'kpi' THEN (forecast_value - start_value) / (target_value - start_value)
        WHEN 'percent_complete' THEN forecast_value / 100.0
      END AS attainment
    FROM projected
  )
)

SELECT * FROM final
