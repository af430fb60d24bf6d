//! A key result's own SQL: checked statically when the job is validated (one read-only
//! `SELECT`, known parameters only) and run with its parameters bound, never spliced.

use crate::engine::{date32, midnight};
use crate::sources::{Measured, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::array::Array;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::ParamValues;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::sources::SQL_PARAMETERS as PARAMETERS;

/// The values bound to a key result's SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParams {
    /// `$as_of`: the evaluation date (a DATE).
    pub as_of: NaiveDate,
    /// `$period_start`, `$period_end`: the period's first day and the day after its last day,
    /// as timestamps at midnight UTC, so `t >= $period_start AND t < $period_end` is the
    /// whole period. `$as_of_end` is midnight after `$as_of`.
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

impl QueryParams {
    /// The named parameter values, as DataFusion binds them.
    pub(crate) fn values(&self) -> ParamValues {
        let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
        ParamValues::from(vec![
            ("as_of", ScalarValue::Date32(Some(date32(self.as_of)))),
            ("as_of_end", midnight(next(self.as_of))),
            ("period_start", midnight(self.period_start)),
            ("period_end", midnight(next(self.period_end))),
        ])
    }
}

/// Checks, without running it, that `sql` is one read-only query using only known parameters.
pub(crate) fn check_sql(sql: &str) -> Result<(), String> {
    let dialect = GenericDialect {};
    let statements =
        Parser::parse_sql(&dialect, sql).map_err(|e| format!("sql does not parse: {e}"))?;
    match statements.as_slice() {
        [Statement::Query(_)] => {}
        _ => {
            return Err(format!(
                "sql must be only a single SELECT (or WITH … SELECT) statement, since it runs read-only; found {} statement(s)",
                statements.len()
            ));
        }
    }
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| format!("sql does not parse: {e}"))?;
    for token in tokens {
        if let Token::Placeholder(p) = token {
            let name = p.trim_start_matches('$');
            if !PARAMETERS.contains(&name) {
                return Err(format!(
                    "unknown parameter `{p}` in sql; available: {}",
                    PARAMETERS
                        .iter()
                        .map(|n| format!("${n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Plans a key result's SQL read-only (no DDL, DML or statements), with its parameters bound
/// when given.
pub async fn plan(
    ctx: &SessionContext,
    sql: &str,
    params: Option<&QueryParams>,
) -> datafusion::error::Result<DataFrame> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx.sql_with_options(sql, options).await?;
    match params {
        Some(params) => df.with_param_values(params.values()),
        None => Ok(df),
    }
}

/// Plans a key result's SQL read-only (no row is read: the tables may be empty) and checks
/// that it gives one numeric column. The message is DataFusion's, with its hints ("Did you
/// mean …").
pub(crate) async fn check_plan(
    ctx: &SessionContext,
    sql: &str,
    params: &QueryParams,
) -> Result<(), String> {
    let message = |e: datafusion::error::DataFusionError| e.strip_backtrace().trim().to_string();
    let df = plan(ctx, sql, Some(params)).await.map_err(message)?;
    let schema = df.schema().clone();
    df.create_physical_plan().await.map_err(message)?;
    let fields = schema.fields();
    if fields.len() != 1 {
        return Err(format!(
            "the query gives {} columns ({}); it must give exactly one number",
            fields.len(),
            fields
                .iter()
                .map(|f| format!("`{}`", f.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let t = fields[0].data_type();
    if !(t.is_numeric() || *t == DataType::Null) {
        return Err(format!(
            "the query gives `{}` of type {t}, not a number",
            fields[0].name()
        ));
    }
    Ok(())
}

/// Runs a key result's SQL read-only with its parameters bound and returns its one number.
/// No row, NULL, or NaN (0 ÷ 0) is "nothing to measure yet" ([`Measured::NoData`]); more
/// than one row or column, text, or an infinite number is an error, and so is a query past
/// its time limit or its share of memory ([`crate::engine::limits`]).
pub(crate) async fn run(
    ctx: &SessionContext,
    kr_id: &str,
    sql: &str,
    params: &QueryParams,
) -> Result<Measured, SourceError> {
    let query_err = |e: datafusion::error::DataFusionError| SourceError::Query {
        kr_id: kr_id.to_string(),
        message: e.strip_backtrace().trim().to_string(),
    };
    let df = plan(ctx, sql, Some(params)).await.map_err(query_err)?;
    let batches = crate::engine::limits::collect(df)
        .await
        .map_err(|e| SourceError::Query {
            kr_id: kr_id.to_string(),
            message: e.to_string(),
        })?;
    let not_one = |message: String| SourceError::NotOneNumber {
        kr_id: kr_id.to_string(),
        message,
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows == 0 {
        return Ok(Measured::NoData(
            "no data yet: the query returned no row (no matching rows)".into(),
        ));
    }
    if rows != 1 {
        return Err(not_one(format!(
            "query returned {rows} rows; it must return exactly one row with one number"
        )));
    }
    let batch = batches.iter().find(|b| b.num_rows() == 1).expect("one row");
    if batch.num_columns() != 1 {
        return Err(not_one(format!(
            "query returned {} columns; it must return exactly one number",
            batch.num_columns()
        )));
    }
    let column = batch.column(0);
    let name = batch.schema().field(0).name().clone();
    if column.is_null(0) {
        return Ok(Measured::NoData(format!(
            "no data yet: `{name}` is NULL (no matching rows)"
        )));
    }
    if !column.data_type().is_numeric() {
        let shown = array_value_to_string(column, 0).unwrap_or_default();
        return Err(not_one(format!(
            "query returned {} value `{shown}` in `{name}`, not a number",
            column.data_type()
        )));
    }
    let as_f64 = cast(column, &DataType::Float64).map_err(|e| not_one(e.to_string()))?;
    let value = as_f64
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Float64Array>()
        .expect("cast to Float64")
        .value(0);
    if value.is_nan() {
        return Ok(Measured::NoData(format!(
            "no data yet: `{name}` is NaN (0 ÷ 0: no matching rows)"
        )));
    }
    if !value.is_finite() {
        return Err(not_one(format!(
            "query returned {value} in `{name}`, not a finite number"
        )));
    }
    Ok(Measured::Value(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_check_accepts_select_and_known_parameters() {
        check_sql("WITH x AS (SELECT 1 AS n) SELECT n FROM x WHERE $as_of_end > $period_start")
            .unwrap();
        let e = check_sql("SELECT 1; SELECT 2").unwrap_err();
        assert!(e.contains("found 2 statement(s)"), "{e}");
        let e = check_sql("DROP TABLE tallyfy_processes").unwrap_err();
        assert!(e.contains("only a single SELECT"), "{e}");
        let e = check_sql("SELECT count(*) FROM t WHERE d < $asof").unwrap_err();
        assert!(e.contains("unknown parameter `$asof`"), "{e}");
        assert!(
            check_sql("SELEC 1")
                .unwrap_err()
                .starts_with("sql does not parse")
        );
    }

    async fn one(sql: &str) -> Result<f64, SourceError> {
        measure(sql).await.map(|m| m.number().expect("a number"))
    }

    async fn measure(sql: &str) -> Result<Measured, SourceError> {
        let ctx = SessionContext::new();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let params = QueryParams {
            as_of: d(3, 15),
            period_start: d(2, 1),
            period_end: d(4, 30),
        };
        run(&ctx, "K1", sql, &params).await
    }

    #[tokio::test]
    async fn parameters_are_bound_with_their_types() {
        // as of 15 March: the window is [1 Feb 00:00, 16 Mar 00:00)
        let window = "SELECT count(*) FROM (VALUES (TIMESTAMP '2026-01-31 23:59:59'), \
            (TIMESTAMP '2026-02-01 00:00:00'), (TIMESTAMP '2026-03-15 23:59:59'), \
            (TIMESTAMP '2026-03-16 00:00:00')) t(x) WHERE x >= $period_start AND x < $as_of_end";
        assert_eq!(one(window).await.unwrap(), 2.0);
        // the period ends on 30 April: $period_end is 1 May 00:00, exclusive
        let end = "SELECT count(*) FROM (VALUES (TIMESTAMP '2026-04-30 23:00:00'), \
            (TIMESTAMP '2026-05-01 00:00:00')) t(x) WHERE x < $period_end";
        assert_eq!(one(end).await.unwrap(), 1.0);
        assert_eq!(
            one("SELECT CASE WHEN $as_of = DATE '2026-03-15' THEN 1 ELSE 0 END")
                .await
                .unwrap(),
            1.0
        );
    }

    #[tokio::test]
    async fn results_that_are_not_one_number_are_clear_errors() {
        let e = one("SELECT * FROM (VALUES (1), (2)) t(x)")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "key result K1: query returned 2 rows; it must return exactly one row with one number"
        );
        let e = one("SELECT 'abc' AS answer").await.unwrap_err().to_string();
        assert!(e.contains("value `abc` in `answer`, not a number"), "{e}");
        let e = one("SELECT 1, 2").await.unwrap_err().to_string();
        assert!(e.contains("2 columns"), "{e}");
        let e = one("SELECT 1.0 / 0.0 AS v").await.unwrap_err().to_string();
        assert!(e.contains("inf in `v`, not a finite number"), "{e}");
        let e = one("SELECT no_such_column FROM (VALUES (1)) t(x)")
            .await
            .unwrap_err();
        assert!(matches!(e, SourceError::Query { .. }), "{e:?}");
        assert_eq!(one("SELECT CAST(7 AS BIGINT)").await.unwrap(), 7.0);
    }

    #[tokio::test]
    async fn nothing_to_measure_yet_is_no_data_not_an_error() {
        let no_data = |m: Measured| m.note().expect("no data").to_string();
        let n = no_data(measure("SELECT 1 WHERE false").await.unwrap());
        assert_eq!(
            n,
            "no data yet: the query returned no row (no matching rows)"
        );
        let n = no_data(measure("SELECT CAST(NULL AS DOUBLE) AS v").await.unwrap());
        assert_eq!(n, "no data yet: `v` is NULL (no matching rows)");
        // 0 ÷ 0 over no rows, as the demo's on-time share on the first day of a quarter
        let n = no_data(
            measure("SELECT 100.0 * count(*) FILTER (WHERE x > 1) / count(*) AS share FROM (VALUES (1)) t(x) WHERE x > 5")
                .await
                .unwrap(),
        );
        assert_eq!(n, "no data yet: `share` is NaN (0 ÷ 0: no matching rows)");
        let n = no_data(
            measure("SELECT median(x) FROM (VALUES (1.0)) t(x) WHERE x > 5")
                .await
                .unwrap(),
        );
        assert!(n.contains("median(t.x)` is NULL"), "{n}");
    }

    #[tokio::test]
    async fn writes_are_refused_at_run_time_too() {
        let e = one("CREATE TABLE x AS SELECT 1")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("query failed"), "{e}");
    }
}
