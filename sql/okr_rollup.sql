-- okr_rollup: progress of every objective and of every `aligned` key result, as the
-- contribution-weighted mean of what sits under it:
--   an objective   ← its key results (weight) and the objectives aligned to one of its key
--                    results that is not itself `aligned` (contribution)
--   an aligned KR  ← the objectives aligned to it (contribution)
-- Shares are normalised at each level and multiplied down every path to the scored key
-- results (kr_scores), so a tree of any depth is rolled up in one pass. Key results with no
-- value at all are left out of the mean; a contribution of 0 shows a link that counts nothing.
WITH RECURSIVE krs AS (
  SELECT kr_id, objective_id, measure_kind, weight FROM kr_definitions
),

-- an objective aligned to several key results is counted under each, with its own
-- contribution there
objectives AS (
  SELECT objective_id, parent_kr_id, contribution FROM objective_alignments
),

edges AS (
  SELECT 'objective' AS parent_kind, objective_id AS parent_id,
         'key_result' AS child_kind, kr_id AS child_id, weight
  FROM krs
  UNION ALL
  SELECT 'key_result' AS parent_kind, k.kr_id AS parent_id,
         'objective' AS child_kind, o.objective_id AS child_id, o.contribution AS weight
  FROM objectives o JOIN krs k ON k.kr_id = o.parent_kr_id
  WHERE k.measure_kind = 'aligned'
  UNION ALL
  SELECT 'objective' AS parent_kind, k.objective_id AS parent_id,
         'objective' AS child_kind, o.objective_id AS child_id, o.contribution AS weight
  FROM objectives o JOIN krs k ON k.kr_id = o.parent_kr_id
  WHERE k.measure_kind <> 'aligned'
),

shares AS (
  SELECT parent_kind, parent_id, child_kind, child_id,
         weight / nullif(sum(weight) OVER (PARTITION BY parent_kind, parent_id), 0.0) AS share
  FROM edges
),

paths AS (
  SELECT parent_kind AS root_kind, parent_id AS root_id,
         child_kind AS node_kind, child_id AS node_id, share AS path_share
  FROM shares
  UNION ALL
  SELECT p.root_kind, p.root_id, s.child_kind, s.child_id, p.path_share * s.share
  FROM paths p
  JOIN shares s ON s.parent_kind = p.node_kind AND s.parent_id = p.node_id
),

weighted AS (
  SELECT p.root_kind, p.root_id, p.path_share, l.attainment, l.progress, l.expected_progress, l.score
  FROM paths p
  JOIN kr_scores l ON p.node_kind = 'key_result' AND p.node_id = l.kr_id
  WHERE l.progress IS NOT NULL AND p.path_share IS NOT NULL
),

final AS (
  SELECT
    root_kind AS node_kind,
    root_id AS node_id,
    sum(path_share * attainment) / nullif(sum(path_share), 0.0) AS attainment,
    sum(path_share * progress) / nullif(sum(path_share), 0.0) AS progress,
    sum(path_share * expected_progress) / nullif(sum(path_share), 0.0) AS expected_progress,
    -- a guardrail with no snapshot date in its window yet has progress and no score: the
    -- score is the mean of those that have one
    sum(path_share * score)
      / nullif(sum(CASE WHEN score IS NOT NULL THEN path_share END), 0.0) AS score
  FROM weighted
  GROUP BY root_kind, root_id
)

SELECT * FROM final
