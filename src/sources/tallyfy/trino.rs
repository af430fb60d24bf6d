//! What a Tallyfy key result computed in Athena may use: its SQL must plan in okrflow's
//! engine (so `validate` checks it offline, and the connection can move between engines) and
//! call only functions Athena's engine (Trino) has too. A function Trino lacks is refused
//! with what to write instead; nothing is substituted silently (Trino's `approx_percentile`
//! is not DataFusion's exact `median`).

use datafusion::sql::sqlparser::ast::{CastKind, Expr, visit_expressions};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Trino's functions by name (trino.io/docs/current/functions, Athena engine v3), those a key
/// result could call, a line or more per topic: aggregate, window, mathematical,
/// conditional, string, regular expression, date and time, array and map, JSON, then
/// conversion, hashing, URL and UUID functions.
/// Geospatial, machine-learning and Teradata-plugin functions are left out (DataFusion has
/// none of them).
const TRINO: &str = "\
    any_value approx_distinct approx_most_frequent approx_percentile arbitrary array_agg avg \
    bitwise_and_agg bitwise_or_agg bitwise_xor_agg bool_and bool_or checksum corr count \
    count_if covar_pop covar_samp every geometric_mean histogram kurtosis listagg map_agg \
    map_union max max_by min min_by multimap_agg numeric_histogram reduce_agg regr_intercept \
    regr_slope skewness stddev stddev_pop stddev_samp sum var_pop var_samp variance \
    cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank \
    row_number \
    abs acos asin atan atan2 cbrt ceil ceiling cos cosh degrees e exp floor from_base \
    infinity is_finite is_infinite is_nan ln log log10 log2 mod nan pi pow power radians \
    rand random round sign sin sqrt tan tanh to_base truncate width_bucket \
    coalesce greatest if least nullif try \
    chr codepoint concat concat_ws format hamming_distance length levenshtein_distance lower \
    lpad ltrim luhn_check normalize position replace reverse rpad rtrim soundex split \
    split_part split_to_map starts_with strpos substr substring translate trim upper \
    from_utf8 to_utf8 \
    regexp_count regexp_extract regexp_extract_all regexp_like regexp_position \
    regexp_replace regexp_split \
    at_timezone current_date current_time current_timestamp current_timezone date date_add \
    date_diff date_format date_parse date_trunc day day_of_month day_of_week day_of_year dow \
    doy extract format_datetime from_iso8601_date from_iso8601_timestamp from_unixtime hour \
    human_readable_seconds last_day_of_month localtime localtimestamp millisecond minute \
    month now parse_datetime parse_duration quarter second timezone_hour timezone_minute \
    to_iso8601 to_milliseconds to_unixtime week week_of_year with_timezone year year_of_week \
    yow \
    all_match any_match array_distinct array_except array_intersect array_join array_max \
    array_min array_position array_remove array_sort array_union arrays_overlap cardinality \
    combinations contains element_at filter flatten map map_concat map_entries map_filter \
    map_from_entries map_keys map_values ngrams none_match reduce repeat sequence shuffle \
    slice transform transform_keys transform_values trim_array zip zip_with \
    is_json_scalar json_array_contains json_array_get json_array_length json_extract \
    json_extract_scalar json_format json_parse json_size \
    cast format_number parse_data_size try_cast typeof crc32 from_base64 from_hex md5 \
    murmur3 sha1 sha256 sha512 to_base64 to_hex xxhash64 url_decode url_encode \
    url_extract_fragment url_extract_host url_extract_parameter url_extract_path \
    url_extract_port url_extract_protocol url_extract_query uuid";

/// What to write instead of a function of okrflow's engine that Trino lacks.
fn instead(function: &str) -> &'static str {
    match function {
        "median" => {
            "Trino has no exact median, and its approx_percentile(x, 0.5) is an approximation, \
             so okrflow does not substitute one for the other: compute the median with \
             row_number() and count(), or keep this connection on okrflow's engine"
        }
        "empty_as_null" => "write NULLIF(trim(x), '') (okrflow's own function is not Athena's)",
        "try_timestamp" => {
            "write TRY_CAST(replace(replace(trim(x), 'T', ' '), 'Z', '') AS TIMESTAMP) \
             (okrflow's own function is not Athena's; Trino's cast wants a space, not a T)"
        }
        "date_part" | "datepart" => "write EXTRACT(field FROM x), which both engines have",
        "nvl" | "ifnull" => "write coalesce(…), which both engines have",
        "string_agg" => "Trino's is listagg, DataFusion's string_agg: there is no shared name",
        "to_timestamp" | "to_date" | "to_char" => {
            "write CAST or TRY_CAST of a 'YYYY-MM-DD HH:MM:SS' string, which both engines read"
        }
        _ => "both engines must have it: see docs/sources.md",
    }
}

/// Checks that `sql` calls only functions Trino has, and no syntax it lacks (`::` casts,
/// `ILIKE`); the problem, naming the function, when not.
pub fn check(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| format!("sql does not parse: {e}"))?;
    let mut problems = Vec::new();
    let _ = visit_expressions(&statements, |e: &Expr| {
        match e {
            Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_ascii_lowercase())
                    .unwrap_or_default();
                if !name.is_empty() && !TRINO.split_whitespace().any(|t| t == name) {
                    problems.push(format!(
                        "`{name}` is not a function of Athena's engine (Trino): {}",
                        instead(&name)
                    ));
                }
            }
            Expr::Cast {
                kind: CastKind::DoubleColon,
                ..
            } => problems.push("Trino has no `::` cast: write CAST(x AS type)".to_string()),
            Expr::ILike { .. } => {
                problems.push("Trino has no ILIKE: write lower(x) LIKE lower(pattern)".into())
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_trino_lacks_is_named_with_what_to_write() {
        // the demo's O1-KR3
        let e = check(
            "SELECT median(duration_days) FROM tallyfy_processes \
             WHERE done_at >= $period_start AND done_at < $as_of_end",
        )
        .unwrap_err();
        assert!(
            e.starts_with("`median` is not a function of Athena's engine"),
            "{e}"
        );
        assert!(
            e.contains("approx_percentile(x, 0.5) is an approximation"),
            "{e}"
        );
        let e = check("SELECT count(*) FROM t WHERE empty_as_null(a)::int > 1 AND b ILIKE 'x%'")
            .unwrap_err();
        assert!(
            e.contains("`empty_as_null`") && e.contains("NULLIF(trim(x), '')"),
            "{e}"
        );
        assert!(e.contains("`::` cast") && e.contains("no ILIKE"), "{e}");
        assert!(check("SELECT date_part('year', d) FROM t").is_err());
        // what both have passes, CTE and column names whatever they are
        check(
            "WITH done AS (SELECT process_id, done_at FROM tallyfy_processes \
             WHERE process_status = 'complete') \
             SELECT CAST(count(DISTINCT process_id) AS DOUBLE) / nullif(count(*), 0) \
             FROM done WHERE done_at < $as_of_end AND lower(trim('x')) LIKE 'x%'",
        )
        .unwrap();
    }
}
