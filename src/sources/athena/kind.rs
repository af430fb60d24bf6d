//! Athena as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked, and its running queries stopped on a stop.

use super::config::{AthenaConnection, AthenaSource};
use super::{AthenaLink, AthenaSettings, params};
use crate::engine::EngineError;
use crate::model::{Measure, Resolved};
use crate::sources::kind::{Extracted, Metric, unset_variables};
use crate::sources::{ApiOptions, KeyResult, Preview, SourceKind};
use std::path::Path;

/// Athena: a key result is one number its SQL returns, computed where the data lives.
pub struct Athena;

/// What the run's Athena queries scanned (0 when none ran; answers from an archive scan
/// nothing): `runs.athena_bytes_scanned`.
pub(crate) const BYTES_SCANNED: Metric = Metric {
    name: "athena_bytes_scanned",
    about: "bytes the run's Athena queries scanned",
};

impl SourceKind for Athena {
    const NAME: &'static str = "athena";
    const METRICS: &'static [Metric] = &[BYTES_SCANNED];
    type ConnectionConfig = AthenaConnection;
    type SourceConfig = AthenaSource;
    type Connection = AthenaSettings;
    type Link = AthenaLink;

    fn connection(
        c: &AthenaConnection,
        base_dir: &Path,
    ) -> Result<Resolved<AthenaSettings>, Vec<String>> {
        let settings = AthenaSettings::from_config(c, base_dir)?;
        let warnings = match (&settings.replay, &settings.query.aws) {
            (Some(dir), _) if !dir.is_dir() => {
                vec![format!("replay folder {} does not exist", dir.display())]
            }
            (Some(_), _) => Vec::new(),
            (None, aws) => match (&aws.access_key_id_env, &aws.secret_access_key_env) {
                (Some(k), Some(s)) => unset_variables(&[k, s]),
                _ => Vec::new(),
            },
        };
        Ok(Resolved {
            value: settings,
            warnings,
        })
    }

    fn source_connection(s: &AthenaSource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(s: &AthenaSource, _measure: &Measure) -> Result<AthenaLink, Vec<String>> {
        params::prepare(&s.sql)
            .map(|prepared| AthenaLink { prepared })
            .map_err(|e| vec![e])
    }

    fn replayed(settings: &AthenaSettings, replay_given: bool) -> bool {
        replay_given || settings.replay.is_some()
    }

    async fn extract(
        name: &str,
        settings: &AthenaSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let (values, bytes) = super::extract(name, settings, krs, api).await;
        Ok(Extracted {
            values,
            metrics: [(BYTES_SCANNED.name, bytes)].into(),
            ..Extracted::default()
        })
    }

    async fn preview(
        name: &str,
        settings: &AthenaSettings,
        kr: &KeyResult,
        _link: &AthenaLink,
        _krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let prepared = &super::link(kr).prepared;
        Ok(super::preview::preview(name, settings, (kr, prepared), &[], None, api).await)
    }

    /// Stops the connection's queries still running in Athena (`StopQueryExecution`).
    async fn cancel(name: &str, _settings: &AthenaSettings) {
        super::cancel(name).await;
    }

    async fn check_online(
        name: &str,
        settings: &AthenaSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        super::check_online(name, settings, krs, api).await
    }
}
