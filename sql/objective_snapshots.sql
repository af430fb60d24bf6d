-- objective_snapshots: one row per objective and run date. Progress, expected progress and
-- score are okr_rollup's weighted means; the counts are of the objective's own key results
-- in kr_snapshots (aligned child objectives are counted in their own rows). Names follow one
-- rule: an entity's own columns carry its name (objective_id, objective_title; kr_id,
-- kr_title). An objective with nothing measured yet and no failed key result is `no_data`;
-- `no_data` key results are left out of the mean, as every key result without a value is.
-- `aligns_to_kr` and `contribution` are the first parent's; `aligns_to` lists every parent
-- with its contribution (`C1-KR1 ×1.0, C2-KR1 ×0.5`).
WITH run AS (
  SELECT * FROM run_info
),

objectives AS (
  SELECT * FROM objective_definitions
),

statuses AS (
  SELECT * FROM okr_status
  WHERE node_kind = 'objective'
),

-- the first parent (as written) in aligns_to_kr and contribution; every parent in aligns_to
alignments AS (
  SELECT
    objective_id,
    max(CASE WHEN position = 1 THEN parent_kr_id END) AS aligns_to_kr,
    max(CASE WHEN position = 1 THEN contribution END) AS contribution,
    arrow_cast(string_agg(parent_kr_id || ' ×' || CAST(contribution AS VARCHAR), ', ' ORDER BY position), 'Utf8') AS aligns_to
  FROM objective_alignments
  GROUP BY objective_id
),

kr_counts AS (
  SELECT
    objective_id,
    count(*) AS krs_total,
    count(*) FILTER (WHERE status = 'done') AS krs_done,
    count(*) FILTER (WHERE status = 'on_track') AS krs_on_track,
    count(*) FILTER (WHERE status = 'behind') AS krs_behind,
    count(*) FILTER (WHERE status = 'at_risk') AS krs_at_risk,
    count(*) FILTER (WHERE status = 'missed') AS krs_missed,
    count(*) FILTER (WHERE stale) AS krs_stale,
    count(*) FILTER (WHERE status = 'no_data') AS krs_no_data,
    -- as in runs and the summary: stale = failed today, last good value kept; failed = failed
    -- today with no value at all
    count(*) FILTER (WHERE error IS NOT NULL AND NOT stale) AS krs_failed,
    -- the owners' word: the worst health given (at_risk > needs_attention > on_track; key
    -- results without one left out) and a count per health
    CASE max(CASE health WHEN 'at_risk' THEN 3 WHEN 'needs_attention' THEN 2
                         WHEN 'on_track' THEN 1 END)
      WHEN 3 THEN 'at_risk' WHEN 2 THEN 'needs_attention' WHEN 1 THEN 'on_track'
    END AS health,
    count(*) FILTER (WHERE health = 'on_track') AS health_on_track,
    count(*) FILTER (WHERE health = 'needs_attention') AS health_needs_attention,
    count(*) FILTER (WHERE health = 'at_risk') AS health_at_risk,
    count(*) FILTER (WHERE health_overdue) AS health_overdue
  FROM kr_snapshots
  GROUP BY objective_id
),

final AS (
  SELECT
    CAST(r.as_of AS VARCHAR) AS as_of,
    r.run_id,
    r.job_name AS job,
    o.period,
    o.objective_id,
    o.title AS objective_title,
    o.owner,
    o.level,
    a.aligns_to_kr,
    a.contribution,
    a.aligns_to,
    s.attainment,
    s.progress,
    s.expected_progress,
    CASE WHEN s.status IS NULL AND coalesce(c.krs_failed, 0) = 0 THEN 'no_data'
         ELSE s.status END AS status,
    o.status_rule,
    s.score,
    c.health,
    coalesce(c.health_on_track, 0) AS health_on_track,
    coalesce(c.health_needs_attention, 0) AS health_needs_attention,
    coalesce(c.health_at_risk, 0) AS health_at_risk,
    coalesce(c.health_overdue, 0) AS health_overdue,
    coalesce(c.krs_total, 0) AS krs_total,
    coalesce(c.krs_done, 0) AS krs_done,
    coalesce(c.krs_on_track, 0) AS krs_on_track,
    coalesce(c.krs_behind, 0) AS krs_behind,
    coalesce(c.krs_at_risk, 0) AS krs_at_risk,
    coalesce(c.krs_missed, 0) AS krs_missed,
    coalesce(c.krs_stale, 0) AS krs_stale,
    coalesce(c.krs_no_data, 0) AS krs_no_data,
    coalesce(c.krs_failed, 0) AS krs_failed,
    o.eval_date AS evaluated_on,
    r.definition_hash,
    arrow_cast(r.computed_at, 'Timestamp(Millisecond, None)') AS computed_at
  FROM objectives o
  CROSS JOIN run r
  LEFT JOIN statuses s ON s.node_id = o.objective_id
  LEFT JOIN kr_counts c ON c.objective_id = o.objective_id
  LEFT JOIN alignments a ON a.objective_id = o.objective_id
)

SELECT * FROM final
ORDER BY objective_id
