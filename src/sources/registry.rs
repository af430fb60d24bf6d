//! The one place source kinds are registered. [`kinds!`] makes, from one line per kind, the
//! job file's `kind = "…"` and `source = { … }` enums, the validated [`Connection`] and
//! [`Link`] enums, [`Registry`] (the model's view of the kinds) and the dispatch from a
//! connection to its kind's [`SourceKind`] methods.

use super::ApiOptions;
use super::kind::{Extracted, Metric, Preview, SourceKind};
use crate::engine::EngineError;
use crate::engine::registry::Statement;
use crate::model::{self, JobError, Measure, Problem, Resolved};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use std::path::Path;

/// A job as okrflow runs it: the model's OKR tree measured by the registered kinds.
pub type Plan = model::Plan<Connection, Link>;
/// A key result of such a job.
pub type KeyResult = model::KeyResult<Link>;
/// A key result's source in such a job.
pub type KrSource = model::KrSource<Link>;

/// The registered kinds, as the model sees them.
#[derive(Debug, Clone, Copy)]
pub struct Registry;

/// Reads and validates a job file.
pub fn load(path: &Path) -> Result<Plan, JobError> {
    model::load::<Registry>(path)
}

/// Parses and validates a job file's text; `path` names it in messages.
pub fn parse(path: &Path, text: &str) -> Result<Plan, JobError> {
    model::parse::parse::<Registry>(path, text)
}

/// A kind as the registry holds it: how its own links are put into, and found in, the
/// registry's [`Link`], so a kind never names another kind's variant.
pub trait Registered: SourceKind {
    /// The kind's link as the plan stores it.
    fn wrap(link: Self::Link) -> Link;
    /// The kind's link, when `link` is one of this kind's.
    fn unwrap(link: &Link) -> Option<&Self::Link>;
}

/// What key result `kr` reads, when it reads from a connection of kind `K`.
pub fn link_of<K: Registered>(kr: &KeyResult) -> Option<&K::Link> {
    kr.source.as_ref().and_then(|s| K::unwrap(&s.link))
}

/// Every SQL statement okrflow runs or sends: the kinds', the engine's, and Athena's.
pub fn all_statements() -> impl Iterator<Item = &'static Statement> {
    source_statements()
        .chain(crate::engine::registry::all())
        // the views `athena ddl` makes over Tallyfy's exports: Athena runs them, not the engine
        .chain(super::tallyfy::athena::STATEMENTS)
}

macro_rules! kinds {
    ($($Variant:ident => $kind:ty),* $(,)?) => {
        /// `[connections.NAME]` as written, told apart by `kind`.
        #[derive(Debug, Clone, Deserialize, PartialEq)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum ConnectionConfig {
            $($Variant(<$kind as SourceKind>::ConnectionConfig),)*
        }

        /// `source = { KIND = {...} }` as written.
        #[derive(Debug, Clone, Deserialize, PartialEq)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub enum SourceConfig {
            $($Variant(<$kind as SourceKind>::SourceConfig),)*
            /// `aligned = { rollup = "sum" }`: made of the values of the key results aligned
            /// to it, not read from a connection.
            Aligned(model::job::RollupConfig),
        }

        /// A validated connection.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Connection {
            $($Variant(<$kind as SourceKind>::Connection),)*
        }

        /// What a key result reads from its connection.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Link {
            $($Variant(<$kind as SourceKind>::Link),)*
        }

        impl model::Kinds for Registry {
            type ConnectionConfig = ConnectionConfig;
            type SourceConfig = SourceConfig;
            type Connection = Connection;
            type Link = Link;

            fn connection(
                config: &ConnectionConfig,
                base_dir: &Path,
            ) -> Result<Resolved<Connection>, Vec<String>> {
                match config {
                    $(ConnectionConfig::$Variant(c) => <$kind>::connection(c, base_dir).map(|r| Resolved {
                        value: Connection::$Variant(r.value),
                        warnings: r.warnings,
                    }),)*
                }
            }

            fn connection_kind(connection: &Connection) -> &'static str {
                connection.kind()
            }

            fn source_kind(config: &SourceConfig) -> &'static str {
                match config {
                    $(SourceConfig::$Variant(_) => <$kind>::NAME,)*
                    SourceConfig::Aligned(_) => "aligned",
                }
            }

            fn source_connection(config: &SourceConfig) -> Option<&str> {
                match config {
                    $(SourceConfig::$Variant(s) => <$kind>::source_connection(s),)*
                    SourceConfig::Aligned(_) => None,
                }
            }

            fn rollup(config: &SourceConfig) -> Option<model::job::Rollup> {
                match config {
                    SourceConfig::Aligned(r) => Some(r.rollup),
                    _ => None,
                }
            }

            fn bind(
                connections: &mut std::collections::BTreeMap<String, Connection>,
            ) -> Vec<(String, String)> {
                let all = connections.clone();
                let mut problems = Vec::new();
                for (name, connection) in connections.iter_mut() {
                    let bound = match connection {
                        $(Connection::$Variant(c) => <$kind>::bind(c, &all),)*
                    };
                    if let Err(problem) = bound {
                        problems.push((name.clone(), problem));
                    }
                }
                problems
            }

            fn link(config: &SourceConfig, measure: &Measure) -> Result<Link, Vec<String>> {
                match config {
                    $(SourceConfig::$Variant(s) => <$kind>::link(s, measure).map(Link::$Variant),)*
                    SourceConfig::Aligned(_) => Err(vec!["a roll-up reads no connection".into()]),
                }
            }
        }

        $(impl Registered for $kind {
            fn wrap(link: <$kind as SourceKind>::Link) -> Link {
                Link::$Variant(link)
            }

            fn unwrap(link: &Link) -> Option<&<$kind as SourceKind>::Link> {
                match link {
                    Link::$Variant(l) => Some(l),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        })*

        /// Every kind's name (`kind = "…"`), in registry order.
        pub const KIND_NAMES: &[&str] = &[$(<$kind as SourceKind>::NAME),*];

        /// Every kind's counters ([`SourceKind::METRICS`]), in registry order.
        pub fn metrics() -> impl Iterator<Item = &'static Metric> {
            std::iter::empty()$(.chain(<$kind as SourceKind>::METRICS.iter()))*
        }

        /// Registers every kind's tables for the scoring SQL
        /// ([`SourceKind::register_scoring_inputs`]), from what extraction gave.
        pub async fn register_scoring_inputs(
            ctx: &SessionContext,
            extracted: &Extracted,
            plan: &Plan,
            as_of: NaiveDate,
        ) -> Result<(), EngineError> {
            $(<$kind>::register_scoring_inputs(ctx, &extracted.inputs, plan, as_of).await?;)*
            Ok(())
        }

        /// Every kind's SQL statements, in registry order.
        pub fn source_statements() -> impl Iterator<Item = &'static Statement> {
            std::iter::empty()$(.chain(<$kind as SourceKind>::STATEMENTS.iter()))*
        }

        impl Connection {
            /// The connection's `kind`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Connection::$Variant(_) => <$kind>::NAME,)*
                }
            }

            /// True when it answers from a replay archive, not the network.
            pub fn replayed(&self, replay_given: bool) -> bool {
                match self {
                    $(Connection::$Variant(c) => <$kind>::replayed(c, replay_given),)*
                }
            }

            /// True when it is read even when no key result reads from it.
            pub fn read_without_key_results(&self) -> bool {
                match self {
                    $(Connection::$Variant(_) => <$kind>::READ_WITHOUT_KEY_RESULTS,)*
                }
            }

            /// One value per key result of `krs` (this connection's).
            pub async fn extract(
                &self,
                name: &str,
                krs: &[&KeyResult],
                api: &ApiOptions,
            ) -> Result<Extracted, EngineError> {
                match self {
                    $(Connection::$Variant(c) => <$kind>::extract(name, c, krs, api).await,)*
                }
            }

            /// What `kr` (of this connection, whose key results are `krs`) would get,
            /// without writing anything.
            pub async fn preview(
                &self,
                name: &str,
                kr: &KeyResult,
                krs: &[&KeyResult],
                api: &ApiOptions,
            ) -> Result<Preview, EngineError> {
                let link = kr.source.as_ref().map(|s| &s.link);
                match (self, link) {
                    $((Connection::$Variant(c), Some(Link::$Variant(l))) => {
                        <$kind>::preview(name, c, kr, l, krs, api).await
                    })*
                    _ => unreachable!("the plan checks that a source's connection has its kind"),
                }
            }

            /// The problems `validate` finds without the network.
            pub async fn check_offline(
                &self,
                name: &str,
                plan: &Plan,
                krs: &[&KeyResult],
                as_of: NaiveDate,
            ) -> Result<Vec<Problem>, EngineError> {
                match self {
                    $(Connection::$Variant(c) => <$kind>::check_offline(name, c, plan, krs, as_of).await,)*
                }
            }

            /// Stops what an interrupted extraction started outside this process.
            pub async fn cancel(&self, name: &str) {
                match self {
                    $(Connection::$Variant(c) => <$kind>::cancel(name, c).await,)*
                }
            }

            /// The statements this connection adds to `athena ddl`.
            pub fn ddl(&self, name: &str) -> Vec<String> {
                match self {
                    $(Connection::$Variant(c) => <$kind>::ddl(name, c),)*
                }
            }

            /// The warnings `validate --online` finds.
            pub async fn warn_online(&self, name: &str, krs: &[&KeyResult]) -> Vec<(String, String)> {
                match self {
                    $(Connection::$Variant(c) => <$kind>::warn_online(name, c, krs).await,)*
                }
            }

            /// The problems `validate --online` finds.
            pub async fn check_online(
                &self,
                name: &str,
                krs: &[&KeyResult],
                api: &ApiOptions,
            ) -> Vec<(String, String)> {
                match self {
                    $(Connection::$Variant(c) => <$kind>::check_online(name, c, krs, api).await,)*
                }
            }
        }
    };
}

kinds! {
    Tallyfy => super::tallyfy::Tallyfy,
    Looker => super::looker::Looker,
    Jira => super::jira::Jira,
    Checkins => super::checkins::Checkins,
    Athena => super::athena::Athena,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_sql_file_is_registered_once() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql");
        // sql/ and its athena/ folder (the statements Athena runs, named `athena/NAME`)
        let list = |dir: &str, prefix: &str| -> Vec<String> {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .map(|n| format!("{prefix}{}", n.trim_end_matches(".sql")))
                .collect()
        };
        let files: BTreeSet<String> = list(dir, "")
            .into_iter()
            .chain(list(&format!("{dir}/athena"), "athena/"))
            .collect();
        let registered: Vec<&str> = all_statements().map(|s| s.name).collect();
        let unique: BTreeSet<String> = registered.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            unique.len(),
            registered.len(),
            "a statement is registered twice"
        );
        assert_eq!(files, unique, "sql/ and the registry differ");
    }

    #[test]
    fn statements_read_as_ctes_ending_in_final() {
        for s in all_statements() {
            let body = s.sql.to_ascii_lowercase();
            assert!(
                body.contains("final as ("),
                "{}.sql has no `final` CTE",
                s.name
            );
            assert!(
                body.trim_end().contains("from final"),
                "{}.sql does not select from `final`",
                s.name
            );
        }
    }
}
