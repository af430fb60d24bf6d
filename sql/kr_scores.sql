-- kr_scores: value → attainment → progress, expected progress and score for every key result
-- that is not `aligned` (those are scored in okr_rollup). Values come from kr_valued; a
-- roll-up's is made here from its children's:
--   roll-up    sum: the sum of the children's values; average: their mean. A child without a
--              value (failed, nothing to measure yet) is left out and named in the note; a
--              stale child's last good value is used and named; with no child valued the
--              roll-up is `no_data`. Its value is as of its oldest child's.
--   attainment kpi: (value - start) / (target - start), so decreasing targets work too;
--              percent_complete: value / 100; milestones: the progress of the highest
--              milestone whose `at` the value reaches (0 before the first); threshold (a
--              guardrail): 1 when the value holds (at or above `threshold_above`, at or
--              below `threshold_below`), else 0
--   progress   attainment clipped to [0, 1]
--   expected   elapsed share of the window, its start (`starts`, else the period's) → due
--              date, at the end of the evaluation day, clipped to [0, 1]. With phases, the
--              attainment of the planned value instead: the line through (window start,
--              start), each (end of a phase's day, its target) and (end of due, target).
--              A threshold: 1, it should hold every day
--   score      progress, less the late penalty: per_week takes points off for every started
--              week between the due date and the day the key result was first done (or the
--              evaluation day, while it is not done); zero_if_missed scores 0 once late.
--              A threshold: the share of its snapshot dates in its window up to the
--              evaluation day with a value that is not stale (kr_window_history's and
--              today's) on which it held
WITH definitions AS (
  SELECT * FROM kr_definitions
  WHERE measure_kind <> 'aligned'
),

children AS (
  SELECT d.aligns_to_kr AS parent_id, d.kr_id, v.value, v.stale, v.value_as_of,
         -- a child left out, and why
         CASE WHEN v.value IS NULL
              THEN d.kr_id || CASE WHEN v.error IS NOT NULL THEN ' (failed)' ELSE ' (no data)' END
         END AS missing
  FROM kr_definitions d
  JOIN kr_valued v ON v.kr_id = d.kr_id
  WHERE d.aligns_to_kr IS NOT NULL
),

rolled AS (
  SELECT
    p.kr_id,
    CASE p.rollup WHEN 'sum' THEN sum(c.value) WHEN 'average' THEN avg(c.value) END AS value,
    min(c.value_as_of) AS value_as_of,
    count(c.value) AS valued,
    -- string_agg makes LargeUtf8; the output's text is Utf8
    arrow_cast(CASE
      WHEN count(c.value) = 0
        THEN 'no key result aligned to it has a value yet: '
             || string_agg(c.missing, ', ' ORDER BY c.kr_id)
      ELSE p.rollup || ' of ' || CAST(count(c.value) AS VARCHAR) || ' key result(s): '
        || string_agg(CASE WHEN c.value IS NOT NULL THEN c.kr_id END, ', ' ORDER BY c.kr_id)
        || coalesce('; stale, last good value used: '
             || string_agg(CASE WHEN c.stale THEN c.kr_id END, ', ' ORDER BY c.kr_id), '')
        || coalesce('; left out, no value: '
             || string_agg(c.missing, ', ' ORDER BY c.kr_id), '')
    END, 'Utf8')
      AS note
  FROM definitions p
  JOIN children c ON c.parent_id = p.kr_id
  WHERE p.rollup IS NOT NULL
  GROUP BY p.kr_id, p.rollup
),

valued AS (
  SELECT
    d.*,
    CASE WHEN d.rollup IS NULL THEN v.value ELSE r.value END AS value,
    CASE WHEN d.rollup IS NULL THEN v.stale ELSE false END AS stale,
    v.stale_since,
    v.error,
    CASE WHEN d.rollup IS NULL THEN v.no_data ELSE coalesce(r.valued, 0) = 0 END AS no_data,
    CASE WHEN d.rollup IS NULL THEN v.note ELSE r.note END AS note,
    v.last_value_on,
    v.first_done_on,
    CASE WHEN d.rollup IS NULL THEN v.value_as_of ELSE r.value_as_of END AS value_as_of
  FROM definitions d
  LEFT JOIN kr_valued v ON v.kr_id = d.kr_id
  LEFT JOIN rolled r ON r.kr_id = d.kr_id
),

-- A guardrail's days: the earlier ones in its window and today's (counted when inside the
-- window up to the evaluation day and not stale), and whether it held on each.
guard_days AS (
  SELECT g.kr_id, g.today, g.counted,
         CASE WHEN d.threshold_above IS NOT NULL THEN g.value >= d.threshold_above
              ELSE g.value <= d.threshold_below END AS held
  FROM (
    SELECT kr_id, value, false AS today, true AS counted FROM kr_window_history
    UNION ALL
    SELECT v.kr_id, v.value, true AS today,
           NOT v.stale AND r.as_of >= v.window_start AND r.as_of <= v.eval_date AS counted
    FROM valued v
    CROSS JOIN run_info r
    WHERE v.value IS NOT NULL
  ) g
  JOIN definitions d ON d.kr_id = g.kr_id
  WHERE d.measure_kind = 'threshold'
),

guarded AS (
  SELECT
    kr_id,
    max(CASE WHEN today THEN CASE WHEN held THEN 1.0 ELSE 0.0 END END) AS attainment,
    sum(CASE WHEN counted AND held THEN 1.0 ELSE 0.0 END)
      / nullif(sum(CASE WHEN counted THEN 1.0 ELSE 0.0 END), 0.0) AS held_share
  FROM guard_days
  GROUP BY kr_id
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
      WHEN v.measure_kind = 'threshold' THEN g.attainment
    END AS attainment,
    g.held_share
  FROM valued v
  LEFT JOIN milestone_reached mr ON mr.kr_id = v.kr_id
  LEFT JOIN guarded g ON g.kr_id = v.kr_id
),

-- The phased plan of a key result with phases, as (time, planned value) points, and the
-- planned value at the end of the evaluation day.
plan_points AS (
  SELECT d.kr_id, date_part('epoch', d.window_start) AS t, d.start_value AS v
  FROM definitions d WHERE d.kr_id IN (SELECT kr_id FROM kr_phases)
  UNION ALL
  SELECT p.kr_id, date_part('epoch', p.on_date) + 86400.0 AS t, p.target_value AS v
  FROM kr_phases p
  UNION ALL
  SELECT d.kr_id, date_part('epoch', d.due) + 86400.0 AS t, d.target_value AS v
  FROM definitions d WHERE d.kr_id IN (SELECT kr_id FROM kr_phases)
),

plan_segments AS (
  SELECT kr_id, t, v,
         lead(t) OVER (PARTITION BY kr_id ORDER BY t) AS t_next,
         lead(v) OVER (PARTITION BY kr_id ORDER BY t) AS v_next
  FROM plan_points
),

planned AS (
  SELECT
    d.kr_id,
    CASE WHEN s.t_next IS NULL THEN s.v
         ELSE s.v + (s.v_next - s.v) * (date_part('epoch', d.eval_date) + 86400.0 - s.t) / (s.t_next - s.t)
    END AS planned_value
  FROM definitions d
  JOIN plan_segments s ON s.kr_id = d.kr_id
  WHERE s.t <= date_part('epoch', d.eval_date) + 86400.0
    AND (s.t_next IS NULL OR date_part('epoch', d.eval_date) + 86400.0 < s.t_next)
),

timed AS (
  SELECT
    a.*,
    -- greatest/least skip NULLs, so a missing attainment must stay NULL explicitly
    CASE WHEN attainment IS NOT NULL THEN greatest(0.0, least(1.0, attainment)) END AS progress,
    CASE WHEN a.measure_kind = 'threshold' THEN 1.0
      WHEN ph.kr_id IS NOT NULL
      THEN greatest(0.0, least(1.0,
        coalesce((pl.planned_value - a.start_value) / (a.target_value - a.start_value), 0.0)))
      ELSE greatest(0.0, least(1.0,
        (date_part('epoch', a.eval_date) - date_part('epoch', a.window_start) + 86400.0)
        / (date_part('epoch', a.due) - date_part('epoch', a.window_start) + 86400.0)))
    END AS expected_progress,
    greatest(0.0, ceil(
      (date_part('epoch', CASE WHEN attainment >= 1.0 THEN coalesce(first_done_on, eval_date) ELSE eval_date END)
       - date_part('epoch', due)) / (7 * 86400.0)
    )) AS weeks_late
  FROM attained a
  LEFT JOIN (SELECT DISTINCT kr_id FROM kr_phases) ph ON ph.kr_id = a.kr_id
  LEFT JOIN planned pl ON pl.kr_id = a.kr_id
),

final AS (
  SELECT
    kr_id, value, attainment, progress, expected_progress, weeks_late,
    CASE
      WHEN progress IS NULL THEN NULL
      WHEN measure_kind = 'threshold' THEN held_share
      WHEN late_penalty_kind = 'per_week' THEN greatest(0.0, progress - late_penalty_per_week * weeks_late)
      WHEN late_penalty_kind = 'zero_if_missed' AND weeks_late > 0 THEN 0.0
      ELSE progress
    END AS score,
    stale, stale_since, error, no_data, note, last_value_on, value_as_of
  FROM timed
)

SELECT * FROM final
