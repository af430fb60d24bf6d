//! The Athena queries this process started and has not seen end, by connection, so that a
//! stop ([`crate::sources::SourceKind::cancel`]) can end them with `StopQueryExecution`. On a
//! stop the extraction's future is dropped where it waits; a query it waited for would keep
//! running in Athena (billed for what it scans, holding a concurrency slot) without this.
//!
//! A query's id is known only once `StartQueryExecution` answers, so the start is sent from
//! a task of its own: dropped mid-request, the extraction does not lose the id, and
//! [`stop_all`] waits (up to [`START_WAIT`]) for starts still on the wire before stopping.

use crate::athena_client::{Answer, Client, QueryError};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a stop waits for `StartQueryExecution` requests still on the wire.
const START_WAIT: Duration = Duration::from_secs(5);

/// One connection's queries: those running, each with the client that started it, and how
/// many starts have not answered yet.
#[derive(Default)]
struct Queries {
    running: BTreeMap<String, Client>,
    starting: usize,
}

/// Every connection's queries, by connection name.
static IN_FLIGHT: Mutex<BTreeMap<String, Queries>> = Mutex::new(BTreeMap::new());

fn with<T>(connection: &str, f: impl FnOnce(&mut Queries) -> T) -> T {
    let mut all = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    f(all.entry(connection.to_string()).or_default())
}

/// Runs `sql` on `connection`'s `client`, tracked from its start to its end.
pub(super) async fn run(
    connection: &str,
    client: &Client,
    sql: &str,
    parameters: &[String],
) -> Result<Answer, QueryError> {
    with(connection, |q| q.starting += 1);
    let (name, starter) = (connection.to_string(), client.clone());
    let (sql, parameters) = (sql.to_string(), parameters.to_vec());
    let start = tokio::spawn(async move {
        let started = starter.start(&sql, &parameters).await;
        with(&name, |q| {
            q.starting -= 1;
            if let Ok(id) = &started {
                q.running.insert(id.clone(), starter);
            }
        });
        started
    });
    let id = start.await.map_err(|e| QueryError::Api {
        operation: "StartQueryExecution",
        message: e.to_string(),
    })??;
    let answer = client.finish(&id).await;
    with(connection, |q| q.running.remove(&id));
    answer
}

/// Stops every query `connection` started that has not ended, once the starts on the wire
/// have answered (or [`START_WAIT`] has passed); returns the ids stopped.
pub(super) async fn stop_all(connection: &str) -> Vec<String> {
    let deadline = Instant::now() + START_WAIT;
    while with(connection, |q| q.starting) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running = with(connection, |q| std::mem::take(&mut q.running));
    let stops = running.into_iter().map(|(id, client)| async move {
        match client.stop(&id).await {
            Ok(()) => tracing::warn!(connection, query_id = %id, "Athena query stopped"),
            Err(error) => {
                tracing::warn!(connection, query_id = %id, %error, "cannot stop the Athena query")
            }
        }
        id
    });
    futures::future::join_all(stops).await
}
