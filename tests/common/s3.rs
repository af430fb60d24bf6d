//! An S3-protocol server on loopback: s3s with its file-system backend, in-process. It checks
//! SigV4 request signatures against two access keys (the customer's and Tallyfy's), keeps
//! objects as files under a temporary folder, and can fail uploads whose key matches a
//! pattern, as an upload that breaks half-way through a run.
//!
//! s3s-fs checks `If-Match` and `If-None-Match` and then writes with nothing serialising the
//! check and the write, so two racing conditional writes can both win; S3 lets exactly one
//! win. This server therefore serialises conditional writes (PUTs with either header) per key
//! in front of s3s, as S3 does.
#![allow(dead_code)]

use axum::http;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The customer's key (output bucket, default chain).
pub const ACCESS_KEY: &str = "AKIAOKRFLOWTEST00001";
pub const SECRET_KEY: &str = "okrflow-test-secret-key-0123456789abcdef";
/// The key Tallyfy hands its customers for its export bucket.
pub const TALLYFY_ACCESS_KEY: &str = "AKIATALLYFYTEST00002";
pub const TALLYFY_SECRET_KEY: &str = "tallyfy-test-secret-key-fedcba9876543210";

pub struct FakeS3 {
    pub addr: SocketAddr,
    /// Buckets are folders here, objects files.
    pub root: tempfile::TempDir,
    /// Uploads (PUT) whose path contains one of these fail with 500.
    pub fail_puts: Arc<Mutex<Vec<String>>>,
    /// `METHOD path access-key` of every request.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeS3 {
    /// Starts the server with these buckets.
    pub async fn start(buckets: &[&str]) -> FakeS3 {
        let root = tempfile::tempdir().unwrap();
        for b in buckets {
            std::fs::create_dir_all(root.path().join(b)).unwrap();
        }
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        let mut auth = s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY);
        auth.register(TALLYFY_ACCESS_KEY.into(), TALLYFY_SECRET_KEY.into());
        builder.set_auth(auth);
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fail_puts: Arc<Mutex<Vec<String>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (fails, log) = (fail_puts.clone(), requests.clone());
        let conditional: Arc<
            Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
        > = Arc::default();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (service, fails, log) = (service.clone(), fails.clone(), log.clone());
                let conditional = conditional.clone();
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let path = req.uri().path().replace("%3D", "=");
                            let key = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|a| a.split("Credential=").nth(1))
                                .and_then(|c| c.split('/').next())
                                .unwrap_or("anonymous")
                                .to_string();
                            log.lock()
                                .unwrap()
                                .push(format!("{} {path} {key}", req.method()));
                            let fail = req.method() == http::Method::PUT
                                && fails
                                    .lock()
                                    .unwrap()
                                    .iter()
                                    .any(|f| path.contains(f.as_str()));
                            let service = service.clone();
                            let guard = (req.method() == http::Method::PUT
                                && (req.headers().contains_key("if-match")
                                    || req.headers().contains_key("if-none-match")))
                            .then(|| {
                                conditional
                                    .lock()
                                    .unwrap()
                                    .entry(path.clone())
                                    .or_default()
                                    .clone()
                            });
                            async move {
                                let _serialised = match &guard {
                                    Some(g) => Some(g.lock().await),
                                    None => None,
                                };
                                if fail {
                                    // Read the upload, as a server does, before failing it.
                                    let _ = axum::body::to_bytes(
                                        axum::body::Body::new(req.into_body()),
                                        usize::MAX,
                                    )
                                    .await;
                                    return Ok(http::Response::builder()
                                    .status(500)
                                    .body(s3s::Body::from(
                                        "<Error><Code>InternalError</Code><Message>injected failure</Message></Error>".to_string(),
                                    ))
                                    .unwrap());
                                }
                                Service::call(&service, req).await
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), handler)
                        .await;
                });
            }
        });
        FakeS3 {
            addr,
            root,
            fail_puts,
            requests,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The file an object is kept in.
    pub fn object(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// The environment a process needs to reach this server with the customer's key.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            (
                "AWS_CONFIG_FILE",
                "/nonexistent/okrflow-test-aws-config".into(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/okrflow-test-aws-credentials".into(),
            ),
            ("TALLYFY_AWS_KEY", TALLYFY_ACCESS_KEY.into()),
            ("TALLYFY_AWS_SECRET", TALLYFY_SECRET_KEY.into()),
        ]
    }
}
