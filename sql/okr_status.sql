-- okr_status: every key result and objective with its progress, and the one status rule.
-- Once the node's period is over (the run date is after its last day) the status is final:
--   done      attainment >= 1
--   missed    otherwise (the score says by how much, late penalty included)
-- While the period runs:
--   done      attainment >= 1
--   on_track  progress - expected >= behind_below     (job default 0.0)
--   behind    progress - expected >= at_risk_below    (job default -0.25)
--   at_risk   otherwise
--   no_data   the source answered and there is nothing to measure yet (the note says why);
--             an objective or aligned key result with nothing measured beneath it and no
--             failure is `no_data` in the output tables
--   NULL      no value could be computed (the error says why)
-- A threshold (guardrail) key result is never `done` while its period runs — holding today is
-- not finishing: `on_track` when it holds, `at_risk` when not; once the period is over,
-- `done` if it held on the period's last evaluated day, else `missed`.
-- An objective whose status rule is `weakest_kr` (Perdoo's) takes instead the worst status
-- among its own key results (missed, at_risk, behind, on_track, done, worst first), leaving out
-- `no_data` and failed ones; with none of those left, the rule above.
WITH run AS (
  SELECT * FROM run_info
),

periods AS (
  SELECT 'key_result' AS node_kind, kr_id AS node_id, period_end,
         measure_kind = 'threshold' AS guardrail
  FROM kr_definitions
  UNION ALL
  SELECT 'objective' AS node_kind, objective_id AS node_id, period_end, false AS guardrail
  FROM objective_definitions
),

scored AS (
  SELECT 'key_result' AS node_kind, kr_id AS node_id, attainment, progress, expected_progress,
         score, no_data
  FROM kr_scores
  UNION ALL
  SELECT node_kind, node_id, attainment, progress, expected_progress, score, false AS no_data
  FROM okr_rollup
),

nodes AS (
  SELECT s.*, r.as_of > p.period_end AS closed, p.guardrail
  FROM scored s
  CROSS JOIN run r
  JOIN periods p ON p.node_kind = s.node_kind AND p.node_id = s.node_id
),

by_progress AS (
  SELECT
    n.*,
    CASE
      WHEN n.progress IS NULL AND n.no_data THEN 'no_data'
      WHEN n.progress IS NULL THEN NULL
      WHEN n.guardrail THEN CASE
        WHEN n.closed AND n.attainment >= 1.0 THEN 'done'
        WHEN n.closed THEN 'missed'
        WHEN n.attainment >= 1.0 THEN 'on_track'
        ELSE 'at_risk'
      END
      WHEN n.attainment >= 1.0 THEN 'done'
      WHEN n.closed THEN 'missed'
      WHEN n.progress - n.expected_progress >= r.behind_below THEN 'on_track'
      WHEN n.progress - n.expected_progress >= r.at_risk_below THEN 'behind'
      ELSE 'at_risk'
    END AS status
  FROM nodes n
  CROSS JOIN run r
),

ranked_krs AS (
  SELECT
    d.objective_id,
    CASE b.status
      WHEN 'missed' THEN 5 WHEN 'at_risk' THEN 4 WHEN 'behind' THEN 3
      WHEN 'on_track' THEN 2 WHEN 'done' THEN 1
    END AS severity
  FROM by_progress b
  JOIN kr_definitions d ON b.node_kind = 'key_result' AND b.node_id = d.kr_id
  WHERE b.status IS NOT NULL AND b.status <> 'no_data'
),

weakest AS (
  SELECT
    objective_id,
    CASE max(severity)
      WHEN 5 THEN 'missed' WHEN 4 THEN 'at_risk' WHEN 3 THEN 'behind'
      WHEN 2 THEN 'on_track' WHEN 1 THEN 'done'
    END AS weakest_status
  FROM ranked_krs
  GROUP BY objective_id
),

final AS (
  SELECT
    b.node_kind, b.node_id, b.attainment, b.progress, b.expected_progress, b.score,
    b.no_data, b.closed,
    CASE WHEN o.status_rule = 'weakest_kr' AND w.weakest_status IS NOT NULL
         THEN w.weakest_status ELSE b.status END AS status
  FROM by_progress b
  LEFT JOIN objective_definitions o ON b.node_kind = 'objective' AND o.objective_id = b.node_id
  LEFT JOIN weakest w ON b.node_kind = 'objective' AND w.objective_id = b.node_id
)

SELECT * FROM final
