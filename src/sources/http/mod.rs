//! HTTP plumbing shared by the API sources (Looker, Jira), and the shape such a kind has:
//!
//! - [`settings`]: request settings, and what every API connection has ([`ApiSettings`],
//!   the job-file fields [`api_connection!`] adds);
//! - [`client`]: one [`HttpClient`] per connection (timeout, concurrency, retries);
//! - [`request`]: a request and its answer;
//! - [`archive`]: the raw archive responses are written to and replayed from;
//! - [`errors`]: [`HttpError`], and what an error answer says;
//! - [`api`]: the scaffolding an API kind ([`api::ApiKind`]) shares: opening its client,
//!   preview, the online check's prologue.

pub(crate) mod api;
pub mod archive;
pub mod client;
pub mod errors;
pub(crate) mod request;
pub mod settings;

pub use archive::Archive;
pub(crate) use archive::replay_root;
pub use client::HttpClient;
pub use errors::HttpError;
pub(crate) use request::{Body, Request, Response};
pub(crate) use settings::{ApiCheck, ApiConnectionConfig, ApiFields, api_connection};
pub use settings::{ApiSettings, HttpDefaults, HttpSettings};
