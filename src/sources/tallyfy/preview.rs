//! `preview` of a Tallyfy key result: beside its value, the rows its query aggregated (the
//! input of the query's outermost aggregate, the columns it aggregates or groups by), so a
//! reader can check the number by hand. Read by [`super::extract_showing`] from the views of
//! the extraction itself.

use super::query::{self, QueryParams};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, SessionContext};
use std::collections::BTreeMap;

/// How many aggregated rows are shown.
pub(crate) const ROWS_SHOWN: usize = 10;

/// The rows a key result's SQL aggregates on the views registered in `ctx`, as text: how
/// many there are and the first [`ROWS_SHOWN`]. `None` when the query has no aggregate, or
/// counting its rows took longer than a key result's query may.
pub(crate) async fn aggregated_rows(
    ctx: &SessionContext,
    sql: &str,
    params: &QueryParams,
) -> Option<String> {
    let df = query::plan(ctx, sql, Some(params)).await.ok()?;
    let secs = crate::engine::limits::bounds().query_timeout_secs;
    let shown = rows_of(ctx, df.logical_plan());
    tokio::time::timeout(std::time::Duration::from_secs(secs.into()), shown)
        .await
        .ok()?
}

/// The input of the outermost aggregate of `plan`, counted and shown.
async fn rows_of(ctx: &SessionContext, plan: &LogicalPlan) -> Option<String> {
    let (input, columns) = outermost_aggregate(plan)?;
    let df = DataFrame::new(ctx.state(), input.clone());
    let count = df.clone().count().await.ok()?;
    let mut text = format!("{count} row(s) aggregated");
    if !columns.is_empty() && count > 0 {
        let exprs: Vec<Expr> = columns.into_values().map(Expr::Column).collect();
        let shown = df.select(exprs).ok()?.limit(0, Some(ROWS_SHOWN)).ok()?;
        let batches = shown.collect().await.ok()?;
        let table = pretty_format_batches(&batches).ok()?.to_string();
        text = format!(
            "{text}{}:\n{table}",
            if count > ROWS_SHOWN {
                format!(", the first {ROWS_SHOWN}")
            } else {
                String::new()
            }
        );
    }
    Some(text)
}

/// The outermost aggregate's input and the columns its expressions read, following single
/// inputs down from the top (projections, sorts, limits, filters).
fn outermost_aggregate(plan: &LogicalPlan) -> Option<(&LogicalPlan, BTreeMap<String, Column>)> {
    match plan {
        LogicalPlan::Aggregate(a) => {
            let columns = a
                .group_expr
                .iter()
                .chain(&a.aggr_expr)
                .flat_map(|e| e.column_refs())
                .map(|c| (c.flat_name(), c.clone()))
                .collect();
            Some((a.input.as_ref(), columns))
        }
        other => match other.inputs().as_slice() {
            [only] => outermost_aggregate(only),
            _ => None,
        },
    }
}
