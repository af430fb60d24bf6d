-- report_objectives: each objective of the reported period as its newest snapshot says it
-- is (status, progress against expected, score, the owners' worst health, how many of its key
-- results have no data yet, are stale or failed), for the progress report's tree and headers.
-- The period is report_krs's.
--
-- An objective whose status is on the other side of most of what is under it (its own key
-- results and the objectives aligned to them, as they stood on its date) says what drives it:
-- `against` lists the majority, `driven_by` its own key results on its side. Its progress is
-- the weighted average of its key results', so one done key result can carry an objective whose
-- teams are all behind; the report says so rather than leaving the reader to find it.
WITH periods AS (
  SELECT DISTINCT period FROM report_krs
),

snapshots AS (
  SELECT
    CAST(as_of AS DATE) AS as_of,
    arrow_cast(period, 'Utf8') AS period,
    arrow_cast(objective_id, 'Utf8') AS objective_id,
    -- `title` in snapshots written before the column was named objective_title
    arrow_cast(coalesce(objective_title, title), 'Utf8') AS title,
    arrow_cast(owner, 'Utf8') AS owner,
    arrow_cast(level, 'Utf8') AS level,
    arrow_cast(aligns_to, 'Utf8') AS aligns_to,
    progress,
    expected_progress,
    arrow_cast(status, 'Utf8') AS status,
    score,
    arrow_cast(health, 'Utf8') AS health,
    coalesce(health_at_risk, 0) AS health_at_risk,
    coalesce(health_needs_attention, 0) AS health_needs_attention,
    coalesce(health_on_track, 0) AS health_on_track,
    krs_total,
    krs_no_data,
    krs_stale,
    krs_failed
  FROM report_objective_history
),

ranked AS (
  SELECT s.*, row_number() OVER (PARTITION BY s.objective_id ORDER BY s.as_of DESC) AS n
  FROM snapshots s
  JOIN periods p ON p.period = s.period
  -- no later than report_krs's day
  WHERE s.as_of <= (SELECT max(as_of) FROM report_krs)
),

latest AS (
  SELECT * FROM ranked WHERE n = 1
),

-- what is under each objective: its key results, and the objectives aligned to them (from
-- any period) on the key result's date
own_krs AS (
  SELECT objective_id, kr_id AS child, status, progress, 0 AS kind
  FROM report_krs
  WHERE is_latest
),

alignments AS (
  SELECT
    objective_id AS child,
    as_of,
    status,
    progress,
    split_part(unnest(string_to_array(aligns_to, ', ')), ' ×', 1) AS parent_kr
  FROM snapshots
  WHERE aligns_to IS NOT NULL
),

aligned_objectives AS (
  SELECT k.objective_id, a.child, a.status, a.progress, 1 AS kind
  FROM alignments a
  JOIN report_krs k ON k.is_latest AND k.kr_id = a.parent_kr AND k.as_of = a.as_of
),

children AS (
  SELECT
    *,
    CASE WHEN status IN ('on_track', 'done') THEN 'ahead'
         WHEN status IN ('behind', 'at_risk', 'missed') THEN 'short'
    END AS side
  FROM (SELECT * FROM own_krs UNION ALL SELECT * FROM aligned_objectives)
),

sided AS (
  SELECT
    l.objective_id,
    CASE WHEN l.status IN ('on_track', 'done') THEN 'ahead'
         WHEN l.status IN ('behind', 'at_risk', 'missed') THEN 'short'
    END AS side
  FROM latest l
),

tally AS (
  SELECT
    c.objective_id,
    count(*) AS children,
    count(*) FILTER (WHERE c.side IS NOT NULL AND c.side <> s.side) AS against_count,
    string_agg(CASE WHEN c.side <> s.side THEN c.child || ' ' || replace(c.status, '_', ' ') END,
               ', ' ORDER BY c.kind, c.child) AS against
  FROM children c
  JOIN sided s ON s.objective_id = c.objective_id
  GROUP BY c.objective_id
),

-- its own key results on its side, the strongest first
drivers AS (
  SELECT
    c.objective_id,
    string_agg(c.child || ' ' || replace(c.status, '_', ' ')
                 || ' (' || CAST(CAST(round(c.progress * 100) AS BIGINT) AS VARCHAR) || '%)',
               ', ' ORDER BY CASE WHEN s.side = 'ahead' THEN -c.progress ELSE c.progress END)
      AS driven_by
  FROM children c
  JOIN sided s ON s.objective_id = c.objective_id
  WHERE c.kind = 0 AND c.side = s.side
  GROUP BY c.objective_id
),

final AS (
  SELECT
    l.as_of, l.period, l.objective_id, l.title, l.owner, l.level, l.progress,
    l.expected_progress, l.status, l.score, l.health, l.health_at_risk,
    l.health_needs_attention, l.health_on_track, l.krs_total, l.krs_no_data, l.krs_stale,
    l.krs_failed,
    t.children,
    CASE WHEN t.against_count * 2 > t.children THEN t.against_count END AS against_count,
    arrow_cast(CASE WHEN t.against_count * 2 > t.children THEN t.against END, 'Utf8') AS against,
    arrow_cast(CASE WHEN t.against_count * 2 > t.children THEN d.driven_by END, 'Utf8') AS driven_by
  FROM latest l
  LEFT JOIN tally t ON t.objective_id = l.objective_id
  LEFT JOIN drivers d ON d.objective_id = l.objective_id
)

SELECT * FROM final
ORDER BY objective_id
