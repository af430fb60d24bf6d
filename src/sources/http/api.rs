//! The shape of an API source kind (Looker, Jira), written once: its settings are
//! [`ApiSettings`] over its own, it opens its client over [`open`]'s [`HttpClient`], fetches
//! what its key results need and computes their values with its SQL ([`ApiKind`]); preview
//! and the online check's connection prologue are here.

use super::client::HttpClient;
use super::errors::HttpError;
use super::settings::ApiSettings;
use crate::engine::{self, EngineError};
use crate::sources::registry::{Registered, link_of};
use crate::sources::{ApiOptions, Computed, HasCause, KeyResult, KrValue, Preview, api_value};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::fmt::Display;

/// What an API kind adds to the shared scaffolding: what it fetches for a connection's key
/// results, and the values, rows and description its SQL and links give.
pub(crate) trait ApiKind: Registered {
    /// What one connection's fetch gave, per key result or target.
    type Fetched;

    /// Fetches what `krs` (all of connection `name`) need, in one session with the server.
    async fn fetch(
        name: &str,
        settings: &Self::Connection,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Self::Fetched;

    /// The key results of `krs` (a connection's) whose requests in a run are also `kr`'s,
    /// for a preview to send the same ones; `kr` alone by default.
    fn sharing<'a>(kr: &'a KeyResult, _krs: &[&'a KeyResult]) -> Vec<&'a KeyResult> {
        vec![kr]
    }

    /// Registers the kind's tables over `fetched` in `ctx`, runs its SQL, and gives each key
    /// result's value or error.
    async fn values(
        ctx: &SessionContext,
        name: &str,
        krs: &[&KeyResult],
        fetched: &Self::Fetched,
        as_of: NaiveDate,
    ) -> Result<Vec<KrValue>, EngineError>;

    /// The rows `kr`'s value came from, as a table, once [`ApiKind::values`] ran in `ctx`.
    async fn rows(
        ctx: &SessionContext,
        kr: &KeyResult,
        link: &Self::Link,
        fetched: &Self::Fetched,
    ) -> Option<String>;

    /// What `link` reads on connection `name`, as a reader would name it.
    fn source(name: &str, link: &Self::Link) -> String;
}

/// The [`SourceKind`](crate::sources::SourceKind) methods every API kind has alike, for
/// its `impl SourceKind`: `replayed` (the connection's own `replay` or the run's) and
/// `preview` (the shared [`preview`] over its [`ApiKind`]).
macro_rules! api_kind_methods {
    () => {
        fn replayed(settings: &Self::Connection, replay_given: bool) -> bool {
            settings.replayed(replay_given)
        }

        async fn preview(
            name: &str,
            settings: &Self::Connection,
            kr: &$crate::sources::KeyResult,
            link: &Self::Link,
            krs: &[&$crate::sources::KeyResult],
            api: &$crate::sources::ApiOptions,
        ) -> Result<$crate::sources::Preview, $crate::engine::EngineError> {
            $crate::sources::http::api::preview::<Self>(name, settings, kr, link, krs, api).await
        }
    };
}
pub(crate) use api_kind_methods;

/// Opens connection `name`'s HTTP client for a run: answers come from the run's replay
/// archive or the connection's own, else the network, and are archived where the run
/// archives them. With `day_archive`, a past run date's archive answers the requests it
/// holds before the network does. Its requests take the connection's slots of `api`.
pub(crate) fn open<K>(
    name: &str,
    settings: &ApiSettings<K>,
    api: &ApiOptions,
    day_archive: bool,
) -> Result<HttpClient, HttpError> {
    let replay = api.replay.as_deref().or(settings.replay.as_deref());
    let http = HttpClient::new(
        name,
        settings.base_url.clone(),
        settings.http.clone(),
        replay,
        api.archive.as_ref(),
    )?
    .with_slots(api.slots.of(name, settings.http.concurrency));
    Ok(match day_archive {
        true => http.with_earlier_archive(api.day_archive.as_ref()),
        false => http,
    })
}

/// The value `kr` would get and the rows it came from, fetched with the key results of
/// `krs` its requests serve in a run ([`ApiKind::sharing`]), so that the requests are a
/// run's (and a run's archive answers them).
pub(crate) async fn preview<K: ApiKind>(
    name: &str,
    settings: &K::Connection,
    kr: &KeyResult,
    link: &K::Link,
    krs: &[&KeyResult],
    api: &ApiOptions,
) -> Result<Preview, EngineError> {
    let mut sharing = K::sharing(kr, krs);
    if !sharing.iter().any(|k| k.id == kr.id) {
        sharing.push(kr);
    }
    let fetched = K::fetch(name, settings, &sharing, api).await;
    let ctx = engine::new_session();
    let value = K::values(&ctx, name, &sharing, &fetched, api.as_of())
        .await?
        .into_iter()
        .find(|v| v.kr_id == kr.id)
        .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
    Ok(Preview {
        kr_id: kr.id.clone(),
        source: K::source(name, link),
        rows: K::rows(&ctx, kr, link, &fetched).await,
        value,
    })
}

/// The value of each key result of kind `K` in `krs`, from what its SQL `computed`: `read`
/// says what the key result reads (for messages) and what was fetched for it (`None`: not
/// fetched).
pub(crate) fn values_of<'f, K: Registered, T: 'f, E: Display + HasCause + 'f>(
    connection: &str,
    krs: &[&KeyResult],
    computed: &BTreeMap<String, Computed>,
    read: impl Fn(&KeyResult, &K::Link) -> (String, Option<&'f Result<T, E>>),
) -> Vec<KrValue> {
    krs.iter()
        .filter_map(|k| {
            let (what, fetched) = read(k, link_of::<K>(k)?);
            let fetched = fetched.map(|r| {
                r.as_ref()
                    .map(|_| ())
                    .map_err(|e| (e.to_string(), e.cause()))
            });
            Some(api_value(
                connection,
                &k.id,
                &what,
                fetched,
                computed.get(&k.id),
            ))
        })
        .collect()
}

/// `validate --online` of connection `name`: its one problem when its `client` could not be
/// opened or `check` fails before any key result is checked, else the problems `check`
/// found. Returns `(subject, problem)` pairs.
pub(crate) async fn check_online<C, E: Display>(
    name: &str,
    client: Result<C, E>,
    check: impl AsyncFnOnce(C) -> Result<Vec<(String, String)>, E>,
) -> Vec<(String, String)> {
    let subject = || format!("connection {name}");
    match client {
        Err(e) => vec![(subject(), e.to_string())],
        Ok(client) => check(client)
            .await
            .unwrap_or_else(|e| vec![(subject(), e.to_string())]),
    }
}

/// A key result's problem on connection `name`, as `validate --online` reports it.
pub(crate) fn kr_problem(name: &str, kr_id: &str, problem: impl Display) -> (String, String) {
    (
        format!("key result {kr_id}"),
        format!("connection `{name}`: {problem}"),
    )
}
