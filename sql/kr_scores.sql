-- kr_scores: value → attainment → progress, expected progress and score for every key result
-- that has its own source (aligned key results are scored in okr_rollup).
--   value      today's value, or the last good one (stale) when today's extraction failed;
--              NULL when the source answered with nothing to measure yet (`no_data`, not a
--              failure: `note` says why). A failure after a `no_data` day has no value to
--              keep, so it is not stale.
--   note       for no_data: why; for a check-in value: the check-in it is (date, author,
--              file, line)
--   last_value_on  for a `no_data` key result that had a value on an earlier date, that date
--              (a renamed epic or a changed filter looks exactly like this)
--   attainment kpi: (value - start) / (target - start), so decreasing targets work too;
--              percent_complete: value / 100; milestones: the progress of the highest
--              milestone whose `at` the value reaches (0 before the first)
--   progress   attainment clipped to [0, 1]
--   expected   elapsed share of the window, period start → due date, at the end of the
--              evaluation day, clipped to [0, 1]
--   score      progress, less the late penalty: per_week takes points off for every started
--              week between the due date and the day the key result was first done (or the
--              evaluation day, while it is not done); zero_if_missed scores 0 once late
WITH run AS (
  SELECT * FROM run_info
),

definitions AS (
  SELECT * FROM kr_definitions
  WHERE measure_kind <> 'aligned'
),

-- A bad check-in row fails a key result of any source (checkin_errors): its value is not
-- used, and the row's problem is the error.
fresh AS (
  SELECT
    v.kr_id,
    CASE WHEN c.error IS NULL THEN v.value END AS value,
    coalesce(v.error, 'key result ' || c.kr_id || ': ' || c.error) AS error,
    CASE WHEN c.error IS NULL THEN v.note END AS note,
    v.error IS NULL AND c.error IS NULL AND v.value IS NULL AS no_data
  FROM kr_values v
  LEFT JOIN checkin_errors c ON c.kr_id = v.kr_id
),

history AS (
  SELECT h.kr_id, CAST(h.as_of AS DATE) AS as_of, h.value, h.status, h.stale, h.stale_since, h.error
  FROM kr_history h
  CROSS JOIN run r
  WHERE CAST(h.as_of AS DATE) < r.as_of
),

-- The newest earlier date the source answered: its value, or NULL after a no_data day.
last_good AS (
  SELECT kr_id, value AS last_value, as_of AS last_good_on
  FROM (
    SELECT *, row_number() OVER (PARTITION BY kr_id ORDER BY as_of DESC) AS n
    FROM history
    WHERE error IS NULL AND (value IS NOT NULL OR status = 'no_data')
  ) WHERE n = 1
),

last_valued AS (
  SELECT kr_id, max(as_of) AS last_value_on
  FROM history
  WHERE value IS NOT NULL AND error IS NULL
  GROUP BY kr_id
),

previous AS (
  SELECT kr_id, stale AS was_stale, stale_since AS was_stale_since
  FROM (
    SELECT *, row_number() OVER (PARTITION BY kr_id ORDER BY as_of DESC) AS n
    FROM history
  ) WHERE n = 1
),

first_done AS (
  SELECT kr_id, min(as_of) AS first_done_on
  FROM history
  WHERE status = 'done' AND error IS NULL
  GROUP BY kr_id
),

valued AS (
  SELECT
    d.*,
    f.error,
    CASE WHEN f.error IS NULL THEN f.value ELSE g.last_value END AS value,
    (f.error IS NOT NULL AND g.last_value IS NOT NULL) AS stale,
    CASE WHEN f.error IS NOT NULL AND g.last_value IS NOT NULL
         THEN CASE WHEN p.was_stale THEN p.was_stale_since ELSE r.as_of END END AS stale_since,
    coalesce(f.no_data, false) AS no_data,
    CASE WHEN f.error IS NULL THEN f.note END AS note,
    CASE WHEN f.no_data THEN lv.last_value_on END AS last_value_on,
    fd.first_done_on
  FROM definitions d
  CROSS JOIN run r
  LEFT JOIN fresh f ON f.kr_id = d.kr_id
  LEFT JOIN last_good g ON g.kr_id = d.kr_id
  LEFT JOIN previous p ON p.kr_id = d.kr_id
  LEFT JOIN last_valued lv ON lv.kr_id = d.kr_id
  LEFT JOIN first_done fd ON fd.kr_id = d.kr_id
),

milestone_reached AS (
  SELECT v.kr_id, max(m.progress) AS reached
  FROM valued v
  JOIN kr_milestones m ON m.kr_id = v.kr_id AND v.value >= m.at_value
  GROUP BY v.kr_id
),

attained AS (
  SELECT
    v.*,
    CASE
      WHEN v.value IS NULL THEN NULL
      WHEN v.measure_kind = 'kpi' THEN (v.value - v.start_value) / (v.target_value - v.start_value)
      WHEN v.measure_kind = 'percent_complete' THEN v.value / 100.0
      WHEN v.measure_kind = 'milestones' THEN coalesce(mr.reached, 0.0)
    END AS attainment
  FROM valued v
  LEFT JOIN milestone_reached mr ON mr.kr_id = v.kr_id
),

timed AS (
  SELECT
    *,
    -- greatest/least skip NULLs, so a missing attainment must stay NULL explicitly
    CASE WHEN attainment IS NOT NULL THEN greatest(0.0, least(1.0, attainment)) END AS progress,
    greatest(0.0, least(1.0,
      (date_part('epoch', eval_date) - date_part('epoch', window_start) + 86400.0)
      / (date_part('epoch', due) - date_part('epoch', window_start) + 86400.0)
    )) AS expected_progress,
    greatest(0.0, ceil(
      (date_part('epoch', CASE WHEN attainment >= 1.0 THEN coalesce(first_done_on, eval_date) ELSE eval_date END)
       - date_part('epoch', due)) / (7 * 86400.0)
    )) AS weeks_late
  FROM attained
),

final AS (
  SELECT
    kr_id, value, attainment, progress, expected_progress, weeks_late,
    CASE
      WHEN progress IS NULL THEN NULL
      WHEN late_penalty_kind = 'per_week' THEN greatest(0.0, progress - late_penalty_per_week * weeks_late)
      WHEN late_penalty_kind = 'zero_if_missed' AND weeks_late > 0 THEN 0.0
      ELSE progress
    END AS score,
    stale, stale_since, error, no_data, note, last_value_on
  FROM timed
)

SELECT * FROM final
