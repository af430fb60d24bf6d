-- report_attention: the key results of the reported period that need a reader's attention as
-- of their newest snapshot, for the report's opening list: at risk or behind, with no data,
-- failed (stale when the last good value is kept), or with the owner's health check-in
-- overdue. A closed period's `missed` is its final score, shown there, not listed here.
-- `reasons` says what is wrong (a guardrail at risk: which side of its threshold); `why` is
-- the source's error, the note, where an off-pace key result ends at this pace (its forecast)
-- and the owner's health note, in that order; `off_pace`, `failing` and `health_overdue` say
-- it as flags.
WITH latest AS (
  SELECT * FROM report_krs WHERE is_latest
),

flagged AS (
  SELECT
    objective_id,
    kr_id,
    kr_title,
    owner,
    concat_ws(', ',
      CASE status
        WHEN 'at_risk' THEN 'at risk' || coalesce(
          ': under its threshold ' || CAST(threshold_above AS VARCHAR),
          ': over its threshold ' || CAST(threshold_below AS VARCHAR), '')
        WHEN 'behind' THEN 'behind'
        WHEN 'no_data' THEN 'no data'
      END,
      CASE WHEN stale THEN 'stale' WHEN error IS NOT NULL THEN 'failed' END,
      CASE WHEN health_overdue THEN 'health overdue' END
    ) AS reasons,
    nullif(concat_ws(' · ', error, note,
      CASE WHEN status IN ('at_risk', 'behind') THEN
        'at this pace ' || CAST(round(forecast_attainment * 100.0, 1) AS VARCHAR)
        || '% of the target by ' || CAST(due AS VARCHAR) END,
      'owner: ' || health_note), '') AS why,
    -- the lists a digest makes of them (src/notify/): off pace, failing, health overdue
    coalesce(status IN ('at_risk', 'behind'), false) AS off_pace,
    coalesce(stale OR error IS NOT NULL, false) AS failing,
    coalesce(health_overdue, false) AS health_overdue
  FROM latest
),

final AS (
  SELECT * FROM flagged WHERE reasons <> ''
)

SELECT * FROM final
ORDER BY objective_id, kr_id
