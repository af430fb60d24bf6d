//! Every SQL statement okrflow runs, embedded from `sql/` at build time. One file per table
//! or view, named after it; the order here is the order they are defined in.

/// How a statement's result is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Registered as a view that later statements (and key-result SQL) query.
    View,
    /// Run, collected and written as an output table.
    Output,
}

/// One SQL file.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    /// The table or view it makes; also the file name without `.sql`.
    pub name: &'static str,
    pub kind: Kind,
    pub sql: &'static str,
}

/// `sql_statement!("name", View)`: the statement in `sql/name.sql`, embedded at build time.
#[macro_export]
macro_rules! sql_statement {
    ($name:literal, $kind:ident) => {
        $crate::engine::registry::Statement {
            name: $name,
            kind: $crate::engine::registry::Kind::$kind,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $name, ".sql")),
        }
    };
}
use crate::sql_statement as statement;

/// The scoring statements, in order: views first, then the output tables.
pub const SCORING: &[Statement] = &[
    statement!("kr_health", View),
    statement!("kr_grades", View),
    statement!("kr_window_history", View),
    statement!("kr_valued", View),
    statement!("kr_scores", View),
    statement!("kr_forecasts", View),
    statement!("okr_rollup", View),
    statement!("okr_status", View),
    statement!("kr_snapshots", Output),
    statement!("objective_snapshots", Output),
    statement!("quarter_scores", Output),
    statement!("runs", Output),
];

/// What of the earlier snapshots a later run still needs (src/sink/history_state.rs).
pub const HISTORY_KEPT: Statement = statement!("kr_history_kept", View);

/// The progress report's views over the written snapshots.
pub const REPORT: &[Statement] = &[
    statement!("report_krs", View),
    statement!("report_objectives", View),
    statement!("report_attention", View),
];

/// The engine's own statements (a source kind declares its own: `SourceKind::STATEMENTS`;
/// `sources::registry::all_statements` lists them all).
pub fn all() -> impl Iterator<Item = &'static Statement> {
    SCORING
        .iter()
        .chain(std::iter::once(&HISTORY_KEPT))
        .chain(REPORT)
}
