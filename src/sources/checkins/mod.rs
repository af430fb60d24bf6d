//! Check-ins: the owners' word. A CSV row is `kr_id,date,value,health,note,author`; a key
//! result whose source is `checkins` takes its newest value on or before its evaluation date
//! (`sql/checkin_values.sql`), and every key result, whatever its source, takes its newest
//! health (`sql/kr_health.sql`, in scoring).
//!
//! - [`config`]: the connection and key-result settings;
//! - [`read`]: listing, archiving and parsing the files;
//! - [`kind`]: check-ins as a [`crate::sources::SourceKind`].

pub mod config;
pub mod kind;
pub mod read;

use crate::engine::registry::Statement;
use crate::engine::tables::{self, Col, text};
use crate::engine::{self, EngineError, date32};
use crate::sources::{KeyResult, KrValue, Measured, Plan, api_value, read_computed};
use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use read::CheckinRow;
use std::collections::BTreeSet;

pub use kind::Checkins;

/// The check-ins statements: which key results a bad row fails (also registered for
/// scoring, where it fails key results of any source), and a check-in key result's value.
pub(crate) const STATEMENTS: &[Statement] = &[
    crate::sql_statement!("checkin_errors", View),
    crate::sql_statement!("checkin_values", View),
];

/// The table scoring reads check-in rows from ([`crate::sources::Extracted::inputs`]).
pub(crate) const TABLE: &str = "checkins";

/// Registers `checkins` (every row of `batches`, in the order read, `problem` set on the
/// rows that cannot be used; no row when there is no batch), `checkin_selections` (the key
/// results `krs` and their evaluation dates and the dates their values are read as of, for
/// `as_of`) and the `checkin_errors` view over them.
pub async fn register(
    ctx: &SessionContext,
    batches: &[RecordBatch],
    krs: &[&KeyResult],
    as_of: NaiveDate,
) -> Result<(), EngineError> {
    match batches {
        [] => register_rows(ctx, &[])?,
        _ => engine::register_batches(ctx, TABLE, batches.to_vec(), batches[0].schema())?,
    }
    tables::register(
        ctx,
        "checkin_selections",
        vec![
            ("kr_id", text(krs.iter().map(|k| Some(k.id.clone())))),
            (
                "eval_date",
                tables::evaluation_dates(krs.iter().copied(), as_of),
            ),
            (
                "value_date",
                tables::value_dates(krs.iter().copied(), as_of),
            ),
        ],
    )?;
    engine::register_view(ctx, &STATEMENTS[0]).await
}

/// Registers the `checkins` table alone.
fn register_rows(ctx: &SessionContext, rows: &[CheckinRow]) -> Result<(), EngineError> {
    let batch = rows_batch(rows)?;
    engine::register_batches(ctx, TABLE, vec![batch.clone()], batch.schema())
}

/// The rows as the `checkins` table's batch.
pub(crate) fn rows_batch(rows: &[CheckinRow]) -> Result<RecordBatch, EngineError> {
    let t = |f: fn(&CheckinRow) -> Option<String>| text(rows.iter().map(f));
    tables::batch(
        TABLE,
        vec![
            ("connection", t(|r| Some(r.connection.clone()))),
            ("file", t(|r| Some(r.file.clone()))),
            (
                "line",
                Col::Int(rows.iter().map(|r| Some(r.line as i64)).collect()),
            ),
            ("kr_id", t(|r| Some(r.kr_id.clone()))),
            (
                "checked_on",
                Col::Date(rows.iter().map(|r| r.date.map(date32)).collect()),
            ),
            ("value", Col::Float(rows.iter().map(|r| r.value).collect())),
            ("health", t(|r| r.health.clone())),
            ("note", t(|r| r.note.clone())),
            ("author", t(|r| r.author.clone())),
            ("score", Col::Float(rows.iter().map(|r| r.score).collect())),
            ("problem", t(|r| r.problem.clone())),
        ],
    )
}

/// The values of one connection's check-in key results, from its rows
/// (`sql/checkin_values.sql`).
pub async fn values(
    connection: &str,
    rows: &[CheckinRow],
    krs: &[&KeyResult],
    as_of: NaiveDate,
) -> Result<Vec<KrValue>, EngineError> {
    let ctx = engine::new_session();
    register(&ctx, &[rows_batch(rows)?], krs, as_of).await?;
    engine::register_view(&ctx, &STATEMENTS[1]).await?;
    let computed = read_computed(&ctx, "checkin_values").await?;
    Ok(krs
        .iter()
        .map(|k| {
            let c = computed.get(&k.id);
            let mut v = api_value(connection, &k.id, "check-ins", Some(Ok(())), c);
            if let (Ok(Measured::Value(value)), Some(source)) =
                (&v.value, c.and_then(|c| c.note.clone()))
            {
                v.value = Ok(Measured::Traced {
                    value: *value,
                    source,
                });
            }
            v
        })
        .collect())
}

/// Logs each row of the `checkins` batches naming a key result the job does not have (it may
/// be an old key result's history) and each row that cannot be used (scoring fails its key
/// result).
pub(crate) fn warn_of_rows(plan: &Plan, batches: &[RecordBatch]) {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    for b in batches {
        let text = |name: &str| b.column_by_name(name).map(|c| c.as_string::<i32>().clone());
        let line = b
            .column_by_name("line")
            .map(|c| c.as_primitive::<Int64Type>().clone());
        let (Some(files), Some(lines), Some(ids), Some(problems)) =
            (text("file"), line, text("kr_id"), text("problem"))
        else {
            continue;
        };
        let rows = (0..b.num_rows()).map(|i| (files.value(i), lines.value(i) as u64, ids.value(i)));
        for w in unknown_key_results(plan, rows) {
            tracing::warn!("{w}");
        }
        for i in (0..b.num_rows()).filter(|&i| problems.is_valid(i)) {
            tracing::warn!("check-in row cannot be used: {}", problems.value(i));
        }
    }
}

/// `file:line: …` for every row (file, line, key result) naming a key result the job does
/// not define.
pub(crate) fn unknown_key_results<'a>(
    plan: &Plan,
    rows: impl IntoIterator<Item = (&'a str, u64, &'a str)>,
) -> Vec<String> {
    let known: BTreeSet<&str> = plan.key_results.iter().map(|k| k.id.as_str()).collect();
    rows.into_iter()
        .filter(|(_, _, kr_id)| !kr_id.is_empty() && !known.contains(kr_id))
        .map(|(file, line, kr_id)| {
            format!(
                "{file}:{line}: check-in for key result `{kr_id}`, which this job does not define (an old key result's history?); ignored"
            )
        })
        .collect()
}
