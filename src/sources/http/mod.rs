//! HTTP plumbing shared by the API sources (Looker, Jira), and the shape such a kind has:
//!
//! - [`settings`]: request settings, and what every API connection has ([`ApiSettings`],
//!   the job-file fields [`api_connection!`] adds);
//! - [`client`]: one [`HttpClient`] per connection (timeout, concurrency, retries);
//! - [`archive`]: the raw archive responses are written to and replayed from;
//! - [`errors`]: [`HttpError`], and what an error answer says;
//! - [`api`]: the scaffolding an API kind ([`api::ApiKind`]) shares: opening its client,
//!   preview, the online check's prologue.

pub mod api;
pub mod archive;
pub mod client;
pub mod errors;
pub mod settings;

pub use archive::{Archive, ArchivedResponse, replay_root};
pub use client::{Body, HttpClient, MAX_RETRY_AFTER, Request, Response};
pub use errors::{HttpError, error_message, retry_after};
pub(crate) use settings::{ApiCheck, ApiConnectionConfig, ApiFields, api_connection};
pub use settings::{ApiSettings, HttpDefaults, HttpSettings};

/// Moved to [`crate::net`]; here for the callers that still name them under `http`.
pub use crate::net::{check_base_url, error_chain};
