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
WITH run AS (
  SELECT * FROM run_info
),

periods AS (
  SELECT 'key_result' AS node_kind, kr_id AS node_id, period_end FROM kr_definitions
  UNION ALL
  SELECT 'objective' AS node_kind, objective_id AS node_id, period_end FROM objective_definitions
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
  SELECT s.*, r.as_of > p.period_end AS closed
  FROM scored s
  CROSS JOIN run r
  JOIN periods p ON p.node_kind = s.node_kind AND p.node_id = s.node_id
),

final AS (
  SELECT
    n.*,
    CASE
      WHEN n.progress IS NULL AND n.no_data THEN 'no_data'
      WHEN n.progress IS NULL THEN NULL
      WHEN n.attainment >= 1.0 THEN 'done'
      WHEN n.closed THEN 'missed'
      WHEN n.progress - n.expected_progress >= r.behind_below THEN 'on_track'
      WHEN n.progress - n.expected_progress >= r.at_risk_below THEN 'behind'
      ELSE 'at_risk'
    END AS status
  FROM nodes n
  CROSS JOIN run r
)

SELECT * FROM final
