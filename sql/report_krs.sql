-- report_krs: every snapshot of every key result in the reported period, one row per key
-- result and date, for the progress report's charts. The report's day is the one asked for
-- (report_request.as_of) or else the newest snapshot's; snapshots after it are left out. The
-- period is the one asked for (report_request.period), else of that day's periods one still
-- running (a person wants the current quarter, not the one that just closed), then the one
-- with the most key results. `is_latest` marks each key result's newest row, which the report
-- shows as its current state. Charts place a row at
-- its evaluation date; of the rows evaluated on one day (runs after the period's end are all
-- evaluated on its last day) only the newest is `charted`. `health` and its note are the
-- owner's newest check-in, shown beside the computed status.
WITH request AS (
  SELECT period, as_of FROM report_request
),

history AS (
  SELECT
    CAST(as_of AS DATE) AS as_of,
    evaluated_on,
    arrow_cast(period, 'Utf8') AS period,
    arrow_cast(objective_id, 'Utf8') AS objective_id,
    arrow_cast(kr_id, 'Utf8') AS kr_id,
    arrow_cast(kr_title, 'Utf8') AS kr_title,
    arrow_cast(owner, 'Utf8') AS owner,
    arrow_cast(measure_kind, 'Utf8') AS measure_kind,
    value,
    start_value,
    target_value,
    threshold_above,
    threshold_below,
    -- the value chart's axis spans these: the start and target, or for a measure without
    -- them (a percent complete, a roll-up's attainment, milestones done, a threshold) from 0,
    -- to 100 for a percent or to the threshold
    coalesce(start_value, 0.0) AS axis_from,
    coalesce(target_value, threshold_above, threshold_below,
             CASE WHEN measure_kind IN ('percent_complete', 'aligned') THEN 100.0 END)
      AS axis_to,
    starts,
    due,
    forecast_value,
    forecast_attainment,
    forecast_points,
    progress,
    expected_progress,
    score,
    arrow_cast(status, 'Utf8') AS status,
    coalesce(stale, false) AS stale,
    arrow_cast(error, 'Utf8') AS error,
    arrow_cast(note, 'Utf8') AS note,
    arrow_cast(health, 'Utf8') AS health,
    arrow_cast(health_note, 'Utf8') AS health_note,
    health_on,
    health_overdue,
    graded_score,
    arrow_cast(graded_by, 'Utf8') AS graded_by,
    arrow_cast(graded_note, 'Utf8') AS graded_note
  FROM report_kr_history
),

snapshots AS (
  SELECT * FROM history
  WHERE (SELECT as_of FROM request) IS NULL OR as_of <= (SELECT as_of FROM request)
),

-- of the newest date's periods (a year, its quarter, a launch): one still running on that
-- date (evaluated on it, not on an earlier end), then the one with the most key results
newest_period AS (
  SELECT period
  FROM snapshots
  WHERE as_of = (SELECT max(as_of) FROM snapshots)
  GROUP BY period
  ORDER BY max(CASE WHEN evaluated_on = as_of THEN 1 ELSE 0 END) DESC, count(*) DESC, period DESC
  LIMIT 1
),

chosen AS (
  SELECT coalesce((SELECT period FROM request), (SELECT period FROM newest_period)) AS period
),

in_period AS (
  SELECT s.*
  FROM snapshots s
  JOIN chosen c ON c.period = s.period
),

final AS (
  SELECT
    *,
    as_of = max(as_of) OVER (PARTITION BY kr_id) AS is_latest,
    as_of = max(as_of) OVER (PARTITION BY kr_id, evaluated_on) AS charted
  FROM in_period
)

SELECT * FROM final
ORDER BY objective_id, kr_id, as_of
