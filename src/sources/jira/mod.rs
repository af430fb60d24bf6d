//! Jira (Cloud and Data Center): JQL queries as key-result values — percent complete or a
//! KPI over a count, time tracking, progress, story points or a numeric custom field.
//!
//! - [`config`]: the connection and key-result settings of the job file;
//! - [`settings`]: a connection validated; [`link`]: a key result's link validated;
//! - [`client`]: credentials, paged searches, counting requests, field and board lookups;
//! - [`model`]: the API bodies, and an issue reduced to the numbers the metrics use;
//! - [`fetch`]: which requests the key results need (identical JQL on a connection is
//!   fetched once; count-only KPIs use one counting request);
//! - [`tables`]: the input tables `jira_*` and the SQL in `sql/jira_values.sql` that turns
//!   them into one value per key result;
//! - [`check`]: `validate --online`; [`kind`]: [`Jira`] as a source kind.

pub(crate) mod check;
pub(crate) mod client;
pub mod config;
pub(crate) mod fetch;
pub mod kind;
pub mod link;
pub mod model;
pub mod settings;
pub(crate) mod tables;

pub use kind::Jira;
pub use link::{JiraLink, Metric};
pub use settings::{JiraOptions, JiraSettings};

use crate::engine::EngineError;
use crate::sources::{ApiOptions, KeyResult, KrValue, SourceKind};

/// Extracts the values of one Jira connection's key results.
pub async fn extract(
    name: &str,
    settings: &JiraSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Result<Vec<KrValue>, EngineError> {
    Jira::extract(name, settings, krs, options)
        .await
        .map(|e| e.values)
}
