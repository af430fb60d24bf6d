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

use crate::engine::tables::{Col, register, text};
use crate::engine::{self, EngineError, date32, registry};
use crate::sources::{KeyResult, KrValue, Measured, Plan, SourceError, api_value, read_computed};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use read::CheckinRow;
use std::collections::{BTreeMap, BTreeSet};

pub use kind::Checkins;

/// Registers `checkins`: the usable rows (no problem), typed, in the order they were read.
pub fn register_rows(ctx: &SessionContext, rows: &[CheckinRow]) -> Result<(), EngineError> {
    let rows: Vec<&CheckinRow> = rows.iter().filter(|r| r.problem.is_none()).collect();
    let t = |f: fn(&CheckinRow) -> Option<String>| text(rows.iter().map(|r| f(r)));
    register(
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
        ],
    )
}

/// The first problem among `kr_id`'s rows that count on `day`: dated on or before it, or
/// with a date that could not be read.
fn problem_of<'a>(rows: &'a [CheckinRow], kr_id: &str, day: NaiveDate) -> Option<&'a str> {
    rows.iter()
        .filter(|r| r.kr_id == kr_id && r.date.is_none_or(|d| d <= day))
        .find_map(|r| r.problem.as_deref())
}

/// The values of one connection's check-in key results, from its rows.
pub async fn values(
    connection: &str,
    rows: &[CheckinRow],
    krs: &[&KeyResult],
    as_of: NaiveDate,
) -> Result<Vec<KrValue>, EngineError> {
    let ctx = engine::new_session();
    register_rows(&ctx, rows)?;
    register(
        &ctx,
        "checkin_selections",
        vec![
            ("kr_id", text(krs.iter().map(|k| Some(k.id.clone())))),
            (
                "eval_date",
                crate::engine::tables::evaluation_dates(krs.iter().copied(), as_of),
            ),
        ],
    )?;
    for s in registry::CHECKINS {
        engine::register_view(&ctx, s).await?;
    }
    let computed = read_computed(&ctx, "checkin_values").await?;
    Ok(krs
        .iter()
        .map(|k| {
            let day = k.evaluation_date(as_of);
            match problem_of(rows, &k.id, day) {
                Some(message) => failed(&k.id, message),
                None => {
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
                }
            }
        })
        .collect())
}

fn failed(kr_id: &str, message: &str) -> KrValue {
    let e = SourceError::Checkin {
        kr_id: kr_id.into(),
        message: message.into(),
    };
    tracing::warn!(kr = kr_id, error = %e, "key result failed");
    KrValue {
        kr_id: kr_id.into(),
        value: Err(e),
    }
}

/// After extraction: a key result with a bad check-in row (a health that is not one of the
/// three, a value that is not a number) fails, whatever its source, and a row naming a key
/// result the job does not have is a warning (it may be an old key result's history).
pub fn apply_problems(plan: &Plan, as_of: NaiveDate, rows: &[CheckinRow], values: &mut [KrValue]) {
    for v in values.iter_mut().filter(|v| v.value.is_ok()) {
        let Some(kr) = plan.key_result(&v.kr_id) else {
            continue;
        };
        if let Some(message) = problem_of(rows, &kr.id, kr.evaluation_date(as_of)) {
            *v = failed(&kr.id, message);
        }
    }
    for w in unknown_key_results(plan, rows) {
        tracing::warn!("{w}");
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

/// Every problem of a connection's rows by key result, for `validate`.
pub fn problems_by_kr(rows: &[CheckinRow]) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in rows {
        if let Some(p) = &r.problem {
            out.entry(r.kr_id.as_str()).or_default().push(p);
        }
    }
    out
}
