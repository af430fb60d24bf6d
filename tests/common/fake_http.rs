//! What the loopback fakes of Looker and Jira share: a log of every request (line, headers
//! and body), latency, injected faults, and a count of requests in flight.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fault served instead of the normal answer, `times` times, to requests whose path
/// contains `path`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub path: String,
    pub kind: FaultKind,
    pub times: usize,
}

#[derive(Clone, Debug)]
pub enum FaultKind {
    /// An error status, with optional `Retry-After` and other headers.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// A 429 with these headers (Jira's rate-limit headers).
    Throttle(Vec<(&'static str, String)>),
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// A 200 with a body that is not JSON.
    Garbage,
    /// A 200 whose body stops half-way: the connection breaks after the first bytes.
    Truncated,
}

/// The request log and fault table of a fake server.
#[derive(Default)]
pub struct Recorder {
    pub faults: Mutex<Vec<Fault>>,
    /// Added to every request.
    pub latency: Mutex<Duration>,
    /// `METHOD path?query` of every request, in order of arrival.
    pub log: Mutex<Vec<String>>,
    /// Line, headers and body of every request, to check for secrets.
    pub seen: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Recorder {
    pub fn fault(&self, path: &str, kind: FaultKind, times: usize) {
        self.faults.lock().unwrap().push(Fault {
            path: path.into(),
            kind,
            times,
        });
    }

    /// Requests served whose `METHOD path?query` starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Records a request, waits the latency, and returns the response of an injected fault
    /// when one applies. `error` makes the server's own error body.
    pub async fn before(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        error: fn(u16, &str) -> Response,
    ) -> Option<Response> {
        let line = format!(
            "{method} {}{}",
            uri.path(),
            uri.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        self.log.lock().unwrap().push(line.clone());
        self.seen.lock().unwrap().push(format!(
            "{line}\n{headers:?}\n{}",
            String::from_utf8_lossy(body)
        ));
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            let found = faults
                .iter_mut()
                .find(|f| f.times > 0 && uri.path().contains(&f.path));
            found.map(|f| {
                f.times -= 1;
                f.kind.clone()
            })
        };
        match fault? {
            FaultKind::Status {
                status,
                retry_after,
            } => {
                let mut r = error(status, "injected fault");
                if let Some(ra) = retry_after {
                    r.headers_mut().insert("retry-after", ra.parse().unwrap());
                }
                Some(r)
            }
            FaultKind::Throttle(headers) => {
                let mut r = error(429, "Rate limit exceeded.");
                for (name, value) in headers {
                    r.headers_mut().insert(name, value.parse().unwrap());
                }
                Some(r)
            }
            FaultKind::Delay(d) => {
                tokio::time::sleep(d).await;
                None
            }
            FaultKind::Garbage => {
                Some((StatusCode::OK, "<html>proxy error page</html>").into_response())
            }
            FaultKind::Truncated => {
                let parts: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(Bytes::from_static(b"{\"fields\": {\"dimensions\": [")),
                    Err(std::io::Error::other("connection lost")),
                ];
                let body = axum::body::Body::from_stream(futures::stream::iter(parts));
                Some((StatusCode::OK, [("content-type", "application/json")], body).into_response())
            }
        }
    }

    /// Counts a request in flight until the returned guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }
}

/// A request being answered.
pub struct InFlight<'a>(&'a Recorder);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `app` on an ephemeral loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}
