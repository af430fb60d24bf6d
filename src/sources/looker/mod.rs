//! Looker (API 4.0): dashboard tiles and looks as key-result values.
//!
//! - [`config`]: the connection and key-result settings of the job file;
//! - [`settings`]: a connection validated; [`link`]: a key result's link validated;
//! - [`client`]: login and token, finding dashboards, tiles and looks, running queries;
//! - [`model`]: the API bodies, and `json_detail` flattened into cells;
//! - [`fetch`]: the requests a set of key results needs (a tile or look shared by several
//!   key results is fetched once);
//! - [`tables`]: the input tables `looker_*` and the SQL in `sql/looker_*.sql` that turns
//!   their rows into one value per key result;
//! - [`kind`]: [`Looker`] as a source kind: extraction, preview, the online check.

pub(crate) mod client;
pub mod config;
pub(crate) mod fetch;
pub mod kind;
pub mod link;
pub mod model;
pub mod settings;
pub(crate) mod tables;

pub use kind::Looker;
pub use link::{DashboardRef, LookerLink, Selection, Target, XSelect};
pub use settings::{LookerCredentials, LookerSettings};

use crate::engine::EngineError;
use crate::sources::{ApiOptions, KeyResult, KrValue, SourceKind};

/// Extracts the values of one Looker connection's key results.
pub async fn extract(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Result<Vec<KrValue>, EngineError> {
    Looker::extract(name, settings, krs, options)
        .await
        .map(|e| e.values)
}
