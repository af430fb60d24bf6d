-- quarter_scores: the quarterly score of every key result and objective. Once the period is
-- over (evaluated on its last day) it is final: the score on that day. While it runs it is a
-- projection at the current pace — attainment / expected progress, clipped to [0, 1] — and
-- `final` is false. `as_of` (the run date) becomes the Hive partition, as in every table, so a
-- period that starts after the Athena DDL was made is visible with no new DDL; `period` is a
-- column, and the view quarter_scores_latest picks each period's newest committed run. A key
-- result's owner's grade (kr_grades) sits beside its computed quarter_score, which it does not
-- change; objectives have none. A threshold (guardrail) key result's quarter_score is its
-- score, the share of days it held, running or not.
WITH krs AS (
  SELECT k.*, d.period_end
  FROM kr_snapshots k
  JOIN kr_definitions d ON d.kr_id = k.kr_id
),

objectives AS (
  SELECT o.*, d.period_end
  FROM objective_snapshots o
  JOIN objective_definitions d ON d.objective_id = o.objective_id
),

items AS (
  SELECT period, run_id, as_of, 'key_result' AS kind, kr_id AS id, objective_id, kr_title AS title,
         owner, evaluated_on, period_end, attainment, progress, expected_progress, score,
         graded_score, graded_by, graded_note, measure_kind = 'threshold' AS guardrail
  FROM krs
  UNION ALL
  SELECT period, run_id, as_of, 'objective' AS kind, objective_id AS id, objective_id, objective_title AS title,
         owner, evaluated_on, period_end, attainment, progress, expected_progress, score,
         CAST(NULL AS DOUBLE), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), false
  FROM objectives
),

final AS (
  SELECT
    as_of,
    period,
    run_id,
    kind,
    id,
    objective_id,
    title,
    owner,
    evaluated_on,
    evaluated_on >= period_end AS final,
    progress,
    expected_progress,
    score,
    CASE
      WHEN guardrail OR evaluated_on >= period_end THEN score
      WHEN attainment IS NOT NULL AND expected_progress > 0.0
        THEN greatest(0.0, least(1.0, attainment / expected_progress))
    END AS quarter_score,
    graded_score,
    graded_by,
    graded_note
  FROM items
)

SELECT * FROM final
ORDER BY kind DESC, id
