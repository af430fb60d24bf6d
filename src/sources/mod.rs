//! Sources extract one raw value per key result. A source kind is one folder implementing
//! [`kind::SourceKind`] (its config, validation, extraction, preview and checks), registered
//! on one line in [`registry`]; the pipeline only sees [`KrValue`]s. [`http`] is the HTTP
//! plumbing the API sources share. The sources import [`crate::model`], never the reverse.

pub mod athena;
pub mod checkins;
pub mod folder;
pub mod http;
pub mod jira;
pub mod kind;
pub mod looker;
pub mod registry;
pub mod tallyfy;

pub use crate::model::value::{Cause, HasCause, KrValue, Measured, SourceError};
pub use kind::{Extracted, Metric, Preview, SourceKind};
pub use registry::{Connection, KeyResult, KrSource, Link, Plan, Registry};

use crate::engine::{self, EngineError};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, Float64Array, StringArray};
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The parameters a key result's SQL may use (`$as_of`, …), whatever its kind.
pub const SQL_PARAMETERS: [&str; 4] = ["as_of", "as_of_end", "period_start", "period_end"];

/// How the API sources (Looker, Jira) reach their servers in a run.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// Answer every request from this raw archive (`run --replay`), not the network.
    pub replay: Option<PathBuf>,
    /// Archive every response used here (`<output>/raw/as_of=DATE`).
    pub archive: Option<http::Archive>,
    /// The run date; `None` is today. Key results evaluated on a day before today are
    /// reconstructed as of that day (Jira from issue dates, Looker from time buckets).
    pub as_of: Option<NaiveDate>,
    /// For a past run date: that day's raw archive, answering the requests it holds before
    /// the network is asked (a Looker result archived that day is the value of that day).
    pub day_archive: Option<http::Archive>,
    /// The run's output, where a source keeps what it learnt for the next run
    /// (`_okrflow/state/`); `None` keeps nothing (`preview`, `validate`).
    pub state: Option<crate::storage::Opened>,
    /// Each connection's request slots. Clones share them: a backfill extracting several
    /// dates at once gives every date the same, so a connection's `concurrency` holds for
    /// the whole command, not per date.
    pub slots: Slots,
}

/// How many requests each connection may have in flight, shared by whoever holds a clone.
#[derive(Debug, Clone, Default)]
pub struct Slots(
    std::sync::Arc<std::sync::Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Semaphore>>>>,
);

impl Slots {
    /// Connection `name`'s slots: `n` of them, made on first use (later calls share those).
    pub fn of(&self, name: &str, n: usize) -> std::sync::Arc<tokio::sync::Semaphore> {
        let mut all = self.0.lock().expect("not poisoned");
        all.entry(name.to_string())
            .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(n.max(1))))
            .clone()
    }
}

impl ApiOptions {
    /// The run date.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of.unwrap_or_else(today)
    }
}

/// Today in UTC: the day live API answers describe.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// True when `day` is before today, so what an API says now must be reconstructed for it.
pub fn is_past(day: NaiveDate) -> bool {
    day < today()
}

/// What an API source's SQL computed for one key result.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub value: Option<f64>,
    pub error: Option<String>,
    /// What a reader checking the value should know (e.g. null cells skipped).
    pub note: Option<String>,
}

/// Reads `kr_id, value, error, note` from one of okrflow's value views.
pub async fn read_computed(
    ctx: &SessionContext,
    view: &str,
) -> Result<BTreeMap<String, Computed>, EngineError> {
    let batches = engine::query(
        ctx,
        &format!("SELECT kr_id, value, error, note FROM {view}"),
    )
    .await?;
    let mut out = BTreeMap::new();
    for b in &batches {
        let text = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("a text column")
        };
        let (ids, errors, notes) = (text(0), text(2), text(3));
        let values = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("value is double");
        let get = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            out.insert(
                ids.value(i).to_string(),
                Computed {
                    value: (!values.is_null(i)).then(|| values.value(i)),
                    error: get(errors, i),
                    note: get(notes, i),
                },
            );
        }
    }
    Ok(out)
}

/// An API key result's value: why its data could not be fetched, why its SQL gave no value,
/// that there is nothing to measure yet (no value and no error: the view's `note` says why),
/// or the value. `what` names what it reads (a tile, a JQL) in messages.
pub fn api_value(
    connection: &str,
    kr_id: &str,
    what: &str,
    fetched: Option<Result<(), (String, Cause)>>,
    computed: Option<&Computed>,
) -> KrValue {
    let value = match (fetched, computed) {
        (None, _) => Err(SourceError::Api {
            connection: connection.into(),
            message: format!("{what}: not fetched"),
        }),
        (Some(Err((message, cause))), _) => Err(SourceError::Api {
            connection: connection.into(),
            message,
        }
        .with_cause(cause)),
        (
            Some(Ok(())),
            Some(Computed {
                value: Some(v),
                error: None,
                note,
            }),
        ) => {
            tracing::info!(
                kr = kr_id,
                value = v,
                note = note.as_deref().unwrap_or(""),
                "key result value"
            );
            Ok(Measured::Value(*v))
        }
        (
            Some(Ok(())),
            Some(Computed {
                value: None,
                error: None,
                note,
            }),
        ) => {
            let note = format!("{what}: {}", note.as_deref().unwrap_or("no value yet"));
            tracing::info!(kr = kr_id, note = %note, "key result has no data yet");
            Ok(Measured::NoData(note))
        }
        (Some(Ok(())), c) => Err(SourceError::NotOneNumber {
            kr_id: kr_id.into(),
            message: format!(
                "{what}: {}",
                c.and_then(|c| c.error.as_deref()).unwrap_or("no value")
            ),
        }),
    };
    if let Err(e) = &value {
        tracing::warn!(kr = kr_id, error = %e, "key result failed");
    }
    KrValue {
        kr_id: kr_id.into(),
        value,
    }
}
