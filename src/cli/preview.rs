//! `preview`: one key result's value fetched as a run would, with the rows it came from;
//! nothing is written.

use super::args::PreviewArgs;
use crate::error::Outcome;
use crate::inspect;
use crate::job;
use crate::sources::{Cause, Measured};
use chrono::Utc;

/// Fetches and prints the key result's value.
pub(crate) async fn preview(args: PreviewArgs) -> anyhow::Result<Outcome> {
    let PreviewArgs {
        job,
        kr,
        as_of,
        replay,
    } = args;
    let plan = job::load(&job)?;
    let as_of = as_of.unwrap_or_else(|| Utc::now().date_naive());
    let preview = inspect::preview(&plan, &kr, as_of, replay).await?;
    println!("{} as of {as_of} — {}", preview.kr_id, preview.source);
    if let Some(note) = plan
        .key_result(&kr)
        .and_then(|k| k.period.closed_note(as_of))
    {
        println!("{note}");
    }
    if let Some(k) = plan.key_result(&kr).filter(|k| k.offset_days > 0) {
        println!(
            "value as of {} (offset_days = {}: evaluated on {})",
            k.value_date(as_of),
            k.offset_days,
            k.evaluation_date(as_of)
        );
    }
    if let Some(rows) = &preview.rows {
        println!("{rows}");
    }
    match preview.value {
        Ok(Measured::Value(v)) => {
            println!("value: {v}");
            Ok(Outcome::Ok)
        }
        Ok(Measured::Traced { value, source }) => {
            println!("value: {value} (from the {source})");
            Ok(Outcome::Ok)
        }
        Ok(Measured::NoData(note)) => {
            println!("no_data: {note}");
            Ok(Outcome::Ok)
        }
        Err(e) => {
            println!("no value: {e}");
            Ok(match e.cause() {
                Cause::Configuration => Outcome::Misconfigured,
                Cause::Today => Outcome::SomeKeyResultsFailed,
            })
        }
    }
}
