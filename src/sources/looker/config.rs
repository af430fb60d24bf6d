//! Job-file settings of a Looker connection and of a key result that reads a tile or a look.

use crate::sources::http::api_connection;
use serde::Deserialize;
use std::collections::BTreeMap;

api_connection! {
    /// `[connections.NAME] kind = "looker"`; the request settings and `replay` every API
    /// connection has follow its own fields.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct LookerConnection {
        /// The instance, e.g. `https://acme.cloud.looker.com` (the API is under `/api/4.0`).
        pub base_url: String,
        /// Environment variable holding the API client id.
        pub client_id_env: String,
        /// Environment variable holding the API client secret.
        pub client_secret_env: String,
    }
}

/// How the selected cells become one number.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Exactly one cell must be selected.
    #[default]
    Single,
    Sum,
    Avg,
    Count,
    Min,
    Max,
}

impl Aggregate {
    /// As written in the job file (and passed to SQL).
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Single => "single",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Count => "count",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
        }
    }
}

/// How the number is read.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// As Looker returns it.
    #[default]
    Exact,
    /// A ratio shown as a percentage: 0.995 → 99.5.
    Percentage,
}

impl Format {
    /// As written in the job file (and passed to SQL).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Exact => "exact",
            Format::Percentage => "percentage",
        }
    }
}

/// `source = { looker = { ... } }` on a key result: a dashboard tile or a look, and which
/// cells of its result make the value.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LookerSource {
    /// May be left out when the job has exactly one Looker connection.
    #[serde(default)]
    pub connection: Option<String>,
    /// Dashboard title (exact match); with `tile`.
    #[serde(default)]
    pub dashboard: Option<String>,
    /// Dashboard id, instead of its title; with `tile`.
    #[serde(default)]
    pub dashboard_id: Option<String>,
    /// Tile title on the dashboard (exact match).
    #[serde(default)]
    pub tile: Option<String>,
    /// Look title (exact match), instead of a dashboard tile.
    #[serde(default)]
    pub look: Option<String>,
    /// Look id, instead of a dashboard tile.
    #[serde(default)]
    pub look_id: Option<String>,
    /// x-axis bucket: `latest` (default; the newest bucket of a time x-axis), `all`, or a
    /// value of the x-axis dimension.
    #[serde(default)]
    pub x: Option<String>,
    /// The y-axis field (a measure or numeric table calculation); default: the only one.
    #[serde(default)]
    pub measure: Option<String>,
    /// One pivot column: `{ "users.team" = "EMEA" }`.
    #[serde(default)]
    pub pivot: BTreeMap<String, String>,
    /// Keep rows whose dimensions equal these values.
    #[serde(default)]
    pub filter: BTreeMap<String, String>,
    #[serde(default)]
    pub aggregate: Aggregate,
    #[serde(default)]
    pub format: Format,
}
