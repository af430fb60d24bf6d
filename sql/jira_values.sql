-- One value per Jira key result. Done means status category `done`, whatever the
-- resolution. Percent complete is the metric on done issues ÷ on all matching issues, times
-- 100; a KPI is the metric over all matching issues, or done ones with completed_only;
-- `progress` is the average, over issues with time tracked, of time logged ÷ total time, in
-- percent. Count-only KPIs come from counting requests (jira_counts) instead of issues.
-- Percent complete over a JQL that matches no issue (yet) is no data, not an error: no value
-- and a `note` saying so (`no_data`).
-- A key result evaluated on a past day (`reconstructed`) counts the issues created by the end
-- of that day, and counts one as done if it is done now and entered its status category by
-- then (an issue with no dates is taken as it is now). An issue reopened since, or moved
-- in or out of the JQL, is counted as it is now: Jira keeps only the latest change date.
WITH selections AS (
    SELECT kr_id, metric, mode, completed_only, counted, eval_date, reconstructed
    FROM jira_selections
),

members AS (
    SELECT i.*, s.eval_date, s.reconstructed
    FROM jira_issues AS i
    INNER JOIN selections AS s ON s.kr_id = i.kr_id
    WHERE NOT s.reconstructed OR i.created_on IS NULL OR i.created_on <= s.eval_date
),

issues AS (
    SELECT
        i.kr_id,
        i.key,
        coalesce(
            i.status_category = 'done'
                AND (NOT i.reconstructed OR i.category_changed_on IS NULL
                    OR i.category_changed_on <= i.eval_date),
            false
        ) AS is_done,
        CASE s.metric
            WHEN 'count' THEN 1.0
            WHEN 'time_spent' THEN i.time_spent_hours
            WHEN 'original_estimate' THEN i.original_estimate_hours
            WHEN 'remaining_estimate' THEN i.remaining_estimate_hours
            ELSE i.field_value
        END AS amount,
        CASE
            WHEN i.progress_total_hours > 0 THEN i.progress_hours / i.progress_total_hours
        END AS progress_ratio
    FROM members AS i
    INNER JOIN selections AS s ON s.kr_id = i.kr_id
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
