-- kr_snapshots: one row per key result and run date — the output table. Values and scores
-- come from kr_scores (own source) or okr_rollup (aligned, whose value is its attainment in
-- percent); the status from okr_status. Types are the ones Athena reads: doubles, dates,
-- millisecond timestamps holding UTC, lower-case names. `as_of` becomes the Hive partition.
-- A key result without an owner is shown with its objective's owner. `status` is `no_data`
-- when the source answered with nothing to measure yet (`note` says why), and for an aligned
-- key result that nothing beneath has a value for yet; `last_value_on` is, for a `no_data`
-- row, the last earlier date the key result had a value (a renamed epic looks like this).
-- `health` (and its note, date, author, overdue flag) is what the owner's newest check-in says,
-- beside the computed `status` (kr_health); `graded_score` (and by, note) is the owner's grade
-- beside the computed `score` (kr_grades). `forecast_value` (and its attainment, progress and
-- the dates fitted) is where a kpi or percent_complete key result ends at this pace
-- (kr_forecasts). A threshold (guardrail) key result has `threshold_above` or
-- `threshold_below`, and no start or target.
-- `value_as_of` is the day the value is as of: the evaluation date, less the closing-period
-- offset (`offset_days`) for finance numbers that settle late. A roll-up (`rollup` sum or
-- average) is made of the key results whose `aligns_to_kr` names it.
-- `value_unit` says what `value` is measured in. `definition_hash` is the whole job file's;
-- `kr_definition` is the key result's own table as the job file had it at run time, and
-- `kr_definition_hash` its SHA-256, which changes only when that key result's target, source
-- or period does.
WITH run AS (
  SELECT * FROM run_info
),

definitions AS (
  SELECT * FROM kr_definitions
),

objectives AS (
  SELECT objective_id, owner AS objective_owner FROM objective_definitions
),

scores AS (
  SELECT * FROM kr_scores
),

statuses AS (
  SELECT * FROM okr_status
  WHERE node_kind = 'key_result'
),

health AS (
  SELECT * FROM kr_health
),

grades AS (
  SELECT * FROM kr_grades
),

forecasts AS (
  SELECT * FROM kr_forecasts
),

final AS (
  SELECT
    CAST(r.as_of AS VARCHAR) AS as_of,
    r.run_id,
    r.job_name AS job,
    d.period,
    d.objective_id,
    d.kr_id,
    d.kr_title,
    coalesce(d.owner, o.objective_owner) AS owner,
    d.measure_kind,
    CASE d.measure_kind
      WHEN 'kpi' THEN 'source'
      WHEN 'percent_complete' THEN 'percent'
      WHEN 'milestones' THEN 'milestone'
      WHEN 'threshold' THEN 'source'
      WHEN 'aligned' THEN 'attainment_percent'
    END AS value_unit,
    d.source_kind,
    d.connection,
    d.rollup,
    d.aligns_to_kr,
    -- an aligned key result's value is computed here: 12 significant digits, no float noise
    CASE WHEN d.measure_kind = 'aligned' THEN round_significant(s.attainment * 100.0, 12)
         ELSE k.value END AS value,
    d.start_value,
    d.target_value,
    d.threshold_above,
    d.threshold_below,
    s.attainment,
    s.progress,
    s.expected_progress,
    CASE WHEN d.measure_kind = 'aligned' AND s.progress IS NULL THEN 'no_data'
         ELSE s.status END AS status,
    s.score,
    f.forecast_value,
    f.forecast_attainment,
    f.forecast_progress,
    f.forecast_points,
    d.weight,
    d.window_start AS starts,
    d.due,
    d.eval_date AS evaluated_on,
    k.value_as_of,
    d.offset_days,
    coalesce(k.stale, false) AS stale,
    k.stale_since,
    k.error,
    CASE WHEN d.measure_kind = 'aligned' AND s.progress IS NULL
         THEN 'nothing aligned to it has a value yet'
         ELSE k.note END AS note,
    k.last_value_on,
    h.health,
    h.health_note,
    h.health_on,
    h.health_by,
    h.health_overdue,
    g.graded_score,
    g.graded_by,
    g.graded_note,
    r.definition_hash,
    encode(sha256(d.definition), 'hex') AS kr_definition_hash,
    d.definition AS kr_definition,
    arrow_cast(r.computed_at, 'Timestamp(Millisecond, None)') AS computed_at
  FROM definitions d
  CROSS JOIN run r
  JOIN objectives o ON o.objective_id = d.objective_id
  LEFT JOIN scores k ON k.kr_id = d.kr_id
  LEFT JOIN statuses s ON s.node_id = d.kr_id
  LEFT JOIN health h ON h.kr_id = d.kr_id
  LEFT JOIN grades g ON g.kr_id = d.kr_id
  LEFT JOIN forecasts f ON f.kr_id = d.kr_id
)

SELECT * FROM final
ORDER BY objective_id, kr_id
