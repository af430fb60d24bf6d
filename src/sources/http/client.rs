//! The HTTP client of one connection: a per-request timeout, bounded concurrency, and bounded
//! retries with exponential backoff and jitter that honour `Retry-After`; answers come from
//! the network or a replay archive (see [`super::archive`]).

use super::archive::{self, Archive};
use super::errors::{HttpError, error_message, retry_after};
use super::request::{Body, Request, Response};
use super::settings::HttpSettings;
use crate::net::error_chain;
use crate::secret::Secret;
use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use reqwest::header::HeaderValue;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// The longest `Retry-After` okrflow waits for; a server asking for more fails the request.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// First backoff delay; it doubles per retry, with jitter, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Where answers come from.
enum Transport {
    Network(reqwest::Client),
    /// A folder of `<request key>.json` files for this connection.
    Replay(PathBuf),
}

/// The HTTP client of one connection.
pub struct HttpClient {
    pub(super) connection: String,
    base: Url,
    settings: HttpSettings,
    transport: Transport,
    /// Where this connection's raw responses are archived, if anywhere.
    pub(super) archive: Option<Archive>,
    /// An earlier run's archive that answers the requests it holds before the network does.
    pub(super) earlier: Option<Archive>,
    permits: Arc<Semaphore>,
    requests: AtomicUsize,
    /// Headers sent with every request (credentials, proxy headers); never archived or logged.
    secret_headers: Vec<(reqwest::header::HeaderName, HeaderValue)>,
}

impl HttpClient {
    /// Writes a response to this connection's archive, if it has one (never a login).
    async fn write_archive(&self, request: &Request, response: &Response) -> Result<(), HttpError> {
        match &self.archive {
            Some(dir) => archive::write(dir, &self.connection, request, response).await,
            None => Ok(()),
        }
    }

    /// Adds headers sent with every network request, such as a fixed `Authorization` or a
    /// reverse proxy's header. Their values are secrets.
    pub(crate) fn with_secret_headers(
        mut self,
        headers: Vec<(String, Secret)>,
    ) -> Result<HttpClient, HttpError> {
        for (name, value) in headers {
            let setup = |what: &str| HttpError::Setup {
                connection: self.connection.clone(),
                message: format!("header `{name}`: {what}"),
            };
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| setup("not a valid header name"))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| setup("the value has characters not allowed in a header"))?;
            value.set_sensitive(true);
            self.secret_headers.push((name, value));
        }
        Ok(self)
    }

    /// A client for `base` (requests are made below it). With `replay`, answers come from
    /// `replay/<connection>/` and nothing goes over the network. With `archive`, responses are
    /// written to `archive/<connection>/`.
    pub(crate) fn new(
        connection: &str,
        base: Url,
        settings: HttpSettings,
        replay: Option<&Path>,
        archive: Option<&Archive>,
    ) -> Result<HttpClient, HttpError> {
        let transport = match replay {
            Some(dir) => Transport::Replay(dir.join(connection)),
            None => Transport::Network(
                reqwest::Client::builder()
                    .user_agent(concat!("okrflow/", env!("CARGO_PKG_VERSION")))
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(settings.timeout.min(Duration::from_secs(15)))
                    .build()
                    .map_err(|e| HttpError::Setup {
                        connection: connection.into(),
                        message: format!("cannot build the HTTP client: {e}"),
                    })?,
            ),
        };
        Ok(HttpClient {
            connection: connection.into(),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            base,
            settings,
            transport,
            archive: archive.map(|a| a.child(connection)),
            earlier: None,
            requests: AtomicUsize::new(0),
            secret_headers: Vec::new(),
        })
    }

    /// Answers the requests `earlier` (a run's `raw/as_of=DATE`) holds from it, and only the
    /// others from the network. Replaying clients ignore it.
    pub(crate) fn with_earlier_archive(mut self, earlier: Option<&Archive>) -> HttpClient {
        self.earlier = earlier.map(|a| a.child(&self.connection));
        self
    }

    /// Takes request slots shared with other clients of the connection (a backfill's dates)
    /// instead of its own.
    pub(crate) fn with_slots(mut self, permits: Arc<Semaphore>) -> HttpClient {
        self.permits = permits;
        self
    }

    /// True when answers come from an archive.
    pub(crate) fn is_replay(&self) -> bool {
        matches!(self.transport, Transport::Replay(_))
    }

    /// The connection's name.
    pub(crate) fn connection(&self) -> &str {
        &self.connection
    }

    /// Requests sent over the network so far (retries included).
    pub(crate) fn requests_sent(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends `request` with an optional `Authorization` value, retrying 429, 5xx and refused
    /// connections with backoff. A 2xx answer is archived unless `archive` is false (logins).
    pub(crate) async fn send(
        &self,
        request: &Request,
        authorization: Option<&Secret>,
        archive: bool,
    ) -> Result<Response, HttpError> {
        let described = format!("{} {}", self.connection, request.describe());
        if let Transport::Replay(dir) = &self.transport {
            let described = format!(
                "{} {} (replayed)",
                request.method,
                self.url_for_messages(request)
            );
            let response = archive::replay(dir, request, described)?;
            if archive {
                self.write_archive(request, &response).await?;
            }
            return Ok(response);
        }
        let earlier = match &self.earlier {
            Some(e) => archive::earlier_answer(e, request, &self.url_for_messages(request)).await?,
            None => None,
        };
        if let Some(response) = earlier {
            if archive {
                self.write_archive(request, &response).await?;
            }
            return Ok(response);
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(FIRST_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(self.settings.max_retries)
            .with_jitter();
        let response = (|| self.attempt(request, authorization))
            .retry(backoff)
            .when(HttpError::is_retryable)
            .adjust(|e, next| {
                // Out of retries: stop. Otherwise wait as long as the server asked, if it
                // asked for a bearable time; a longer wait fails now rather than hang the run.
                let next = next?;
                match e {
                    HttpError::Status {
                        retry_after: Some(wait),
                        ..
                    } if *wait > MAX_RETRY_AFTER => None,
                    HttpError::Status {
                        retry_after: Some(wait),
                        ..
                    } => Some(*wait),
                    _ => Some(next),
                }
            })
            .notify(|e, wait| {
                tracing::warn!(request = %described, error = %e, wait_ms = wait.as_millis() as u64, "retrying")
            })
            .await?;
        if archive {
            self.write_archive(request, &response).await?;
        }
        Ok(response)
    }

    async fn attempt(
        &self,
        request: &Request,
        authorization: Option<&Secret>,
    ) -> Result<Response, HttpError> {
        let Transport::Network(client) = &self.transport else {
            unreachable!("replay answers before any attempt")
        };
        let described = format!("{} {}", request.method, self.url_for_messages(request));
        let _permit = self.permits.acquire().await.expect("never closed");
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = self.url(request);
        let mut builder = client
            .request(request.method.clone(), url)
            .timeout(self.settings.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &self.secret_headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(auth) = authorization {
            let mut value = HeaderValue::from_str(auth.expose()).map_err(|_| HttpError::Setup {
                connection: self.connection.clone(),
                message: "the credential contains characters not allowed in a header".into(),
            })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        builder = match &request.body {
            Body::None => builder,
            Body::Json(v) => builder.json(v),
            Body::Form(pairs) => {
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.expose())).collect();
                builder.form(&pairs)
            }
        };
        let started = std::time::Instant::now();
        let result = builder.send().await;
        let response = match result {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&described, &e)),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = self.read_body(response, &described).await?;
        tracing::debug!(request = %described, status, ms = started.elapsed().as_millis() as u64, "response");
        if !(200..300).contains(&status) {
            return Err(HttpError::Status {
                request: described,
                status,
                message: error_message(&body),
                retry_after,
            });
        }
        Ok(Response {
            status,
            body,
            request: described,
            fetched_at: Utc::now(),
        })
    }

    /// The body of `response`, read chunk by chunk up to the connection's `max_response_mib`:
    /// a larger one is refused as soon as it says or shows it is, and never held whole.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        described: &str,
    ) -> Result<String, HttpError> {
        let max = self.settings.max_body;
        let too_large = || HttpError::TooLarge {
            request: described.into(),
            limit_mib: max >> 20,
        };
        let announced = response.content_length().unwrap_or(0);
        if announced > max as u64 {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(described, &e))?
        {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        // JSON is UTF-8; anything else is read as reqwest's `text()` would, lossily.
        Ok(String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn transport_error(&self, described: &str, e: &reqwest::Error) -> HttpError {
        if e.is_timeout() {
            HttpError::Timeout {
                request: described.into(),
                secs: self.settings.timeout.as_secs_f64(),
            }
        } else if e.is_connect() {
            HttpError::Connect {
                request: described.into(),
                message: error_chain(e),
            }
        } else {
            HttpError::Body {
                request: described.into(),
                message: error_chain(e),
            }
        }
    }

    fn url(&self, request: &Request) -> Url {
        let mut url = self.base.clone();
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), request.path);
        url.set_path(&path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        url
    }

    /// The full URL; query strings never hold credentials, so it is safe to print.
    pub(super) fn url_for_messages(&self, request: &Request) -> String {
        self.url(request).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer past the connection's `max_response_mib` is refused, whether its length is
    /// announced (`Content-Length`) or only seen as it streams in; a small one is read.
    #[tokio::test]
    async fn a_body_past_max_response_mib_is_refused() {
        use axum::routing::get;
        let chunks = || {
            let chunk = axum::body::Bytes::from(vec![b' '; 64 << 10]);
            futures::stream::iter((0..48).map(move |_| Ok::<_, std::io::Error>(chunk.clone())))
        };
        let app = axum::Router::new()
            .route("/sized", get(|| async { vec![b' '; 3 << 20] }))
            .route(
                "/streamed",
                get(move || async move { axum::body::Body::from_stream(chunks()) }),
            )
            .route("/small", get(|| async { "{}" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let settings = HttpSettings::checked(10.0, 2, 0, 1).unwrap();
        let client = HttpClient::new("c", base, settings, None, None).unwrap();
        for path in ["/sized", "/streamed"] {
            let e = client
                .send(&Request::get(path, &[]), None, false)
                .await
                .unwrap_err();
            assert!(
                matches!(e, HttpError::TooLarge { limit_mib: 1, .. }),
                "{path}: {e}"
            );
            assert!(
                e.to_string()
                    .contains("is larger than 1 MiB (the connection's max_response_mib)"),
                "{e}"
            );
        }
        let small = Request::get("/small", &[]);
        assert_eq!(client.send(&small, None, false).await.unwrap().body, "{}");
    }

    #[test]
    fn request_keys_are_stable_and_tell_requests_apart() {
        let a = Request::get(
            "/api/4.0/dashboards/search",
            &[("title", "Sales"), ("fields", "id")],
        );
        let b = Request::get(
            "/api/4.0/dashboards/search",
            &[("fields", "id"), ("title", "Sales")],
        );
        let c = Request::get("/api/4.0/dashboards/search", &[("title", "Support")]);
        assert_eq!(a.key(), b.key(), "query order does not matter");
        assert_ne!(a.key(), c.key());
        assert!(
            a.key().starts_with("get_api_4_0_dashboards_search_"),
            "{}",
            a.key()
        );
        assert_eq!(
            a.describe(),
            "GET /api/4.0/dashboards/search?title=Sales&fields=id"
        );
    }
}
