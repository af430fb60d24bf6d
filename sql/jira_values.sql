-- One value per Jira key result, from the issues it counts (`sql/jira_counted.sql`: done as
-- of its evaluation day, and the amount of its metric). Percent complete is the metric on
-- done issues ÷ on all matching issues, times 100; a KPI is the metric over all matching
-- issues, or done ones with completed_only; `progress` is the average, over issues with time
-- tracked, of time logged ÷ total time, in percent. Count-only KPIs come from counting
-- requests (jira_counts) instead of issues.
-- Percent complete over a JQL that matches no issue (yet) is no data, not an error: no value
-- and a `note` saying so (`no_data`).
WITH selections AS (
    SELECT kr_id, metric, mode, completed_only, counted, eval_date, reconstructed
    FROM jira_selections
),

issues AS (
    SELECT kr_id, key, done AS is_done, amount, progress_ratio
    FROM jira_counted
),

totals AS (
    SELECT
        kr_id,
        count(*) AS issues,
        coalesce(sum(amount), 0.0) AS amount_all,
        coalesce(sum(CASE WHEN is_done THEN amount END), 0.0) AS amount_done,
        count(amount) AS with_amount,
        avg(progress_ratio) AS mean_progress
    FROM issues
    GROUP BY kr_id
),

counts AS (
    SELECT kr_id, matching, done
    FROM jira_counts
),

computed AS (
    SELECT
        s.kr_id,
        s.mode,
        s.metric,
        CASE
            WHEN s.counted AND s.completed_only THEN CAST(c.done AS DOUBLE)
            WHEN s.counted THEN CAST(c.matching AS DOUBLE)
            WHEN s.mode = 'percent_complete' AND coalesce(t.amount_all, 0.0) <> 0.0
                THEN 100.0 * t.amount_done / t.amount_all
            WHEN s.mode = 'percent_complete' THEN CAST(NULL AS DOUBLE)
            WHEN s.metric = 'progress' THEN 100.0 * t.mean_progress
            WHEN s.completed_only THEN coalesce(t.amount_done, 0.0)
            ELSE coalesce(t.amount_all, 0.0)
        END AS value,
        CASE
            WHEN s.counted AND (CASE WHEN s.completed_only THEN c.done ELSE c.matching END) IS NULL
                THEN 'the count is missing'
            WHEN s.mode = 'percent_complete' AND coalesce(t.issues, 0) > 0
                AND coalesce(t.amount_all, 0.0) = 0.0
                THEN 'the ' || t.issues || ' matching issue(s) have no ' || s.metric
                    || ' to divide by'
            WHEN s.metric = 'progress' AND t.mean_progress IS NULL
                THEN 'no matching issue has time tracked (progress total is 0 or missing on each)'
        END AS error,
        CASE
            WHEN s.mode = 'percent_complete' AND coalesce(t.issues, 0) = 0
                THEN 'no data yet: no issue matches'
                    || CASE WHEN s.reconstructed
                            THEN ' as of ' || CAST(s.eval_date AS VARCHAR) ELSE '' END
            WHEN s.counted THEN 'counted by one request'
            WHEN t.issues > t.with_amount AND s.metric NOT IN ('count', 'progress')
                THEN t.issues || ' issue(s), ' || (t.issues - t.with_amount) || ' without a value'
        END AS note
    FROM selections AS s
    LEFT JOIN totals AS t ON t.kr_id = s.kr_id
    LEFT JOIN counts AS c ON c.kr_id = s.kr_id
),

final AS (
    SELECT
        kr_id,
        CASE WHEN error IS NULL THEN value END AS value,
        error,
        note
    FROM computed
)

SELECT * FROM final
