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

use crate::engine::tables::{self, Col, text};
use crate::engine::{self, EngineError, date32, registry};
use crate::sources::{KeyResult, KrValue, Measured, Plan, api_value, read_computed};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use read::CheckinRow;
use std::collections::BTreeSet;

pub use kind::Checkins;

/// Registers `checkins`, every row in the order it was read (`problem` set on the rows that
/// cannot be used), `checkin_selections` (the key results `krs` and their evaluation dates
/// and the dates their values are read as of, for `as_of`) and the `checkin_errors` view over
/// them.
pub async fn register(
    ctx: &SessionContext,
    rows: &[CheckinRow],
    krs: &[&KeyResult],
    as_of: NaiveDate,
) -> Result<(), EngineError> {
    register_rows(ctx, rows)?;
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
    engine::register_view(ctx, &registry::CHECKIN_ERRORS).await
}

/// Registers the `checkins` table alone.
fn register_rows(ctx: &SessionContext, rows: &[CheckinRow]) -> Result<(), EngineError> {
    let t = |f: fn(&CheckinRow) -> Option<String>| text(rows.iter().map(f));
    tables::register(
        ctx,
        "checkins",
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
    register(&ctx, rows, krs, as_of).await?;
    engine::register_view(&ctx, &registry::CHECKINS[1]).await?;
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

/// Logs each row naming a key result the job does not have (it may be an old key result's
/// history) and each row that cannot be used (scoring fails its key result).
pub fn warn_of_rows(plan: &Plan, rows: &[CheckinRow]) {
    for w in unknown_key_results(plan, rows) {
        tracing::warn!("{w}");
    }
    for p in rows.iter().filter_map(|r| r.problem.as_deref()) {
        tracing::warn!("check-in row cannot be used: {p}");
    }
}

/// `file:line: …` for every row naming a key result the job does not define.
pub fn unknown_key_results(plan: &Plan, rows: &[CheckinRow]) -> Vec<String> {
    let known: BTreeSet<&str> = plan.key_results.iter().map(|k| k.id.as_str()).collect();
    rows.iter()
        .filter(|r| !r.kr_id.is_empty() && !known.contains(r.kr_id.as_str()))
        .map(|r| {
            format!(
                "{}:{}: check-in for key result `{}`, which this job does not define (an old key result's history?); ignored",
                r.file, r.line, r.kr_id
            )
        })
        .collect()
}
