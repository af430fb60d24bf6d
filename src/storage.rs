//! Where data is read and written: a local folder or an S3 prefix, opened as the
//! `object_store` DataFusion reads through. S3 credentials come from aws-config — the chain
//! the AWS CLI uses (environment, shared config and credentials files with a profile, SSO,
//! web identity, container and instance roles) — or from named environment variables, and
//! are cached until shortly before they expire.

use crate::model::job::S3Options;
use crate::model::{Location, S3Location};
use crate::net::error_chain;
use crate::secret::Secret;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use datafusion::prelude::SessionContext;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{CredentialProvider, ObjectMeta, ObjectStore};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use url::Url;

/// Why a location could not be opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    #[error("{location}: {message}")]
    Open { location: String, message: String },
    #[error("{location}: no AWS credentials: {message}")]
    Credentials { location: String, message: String },
}

/// An opened location: its store, the URL DataFusion knows it by, and the prefix inside it.
#[derive(Clone)]
pub struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// `s3://bucket` or `file:///`: the key the store is registered under.
    pub store_url: Url,
    /// The location's root inside the store (no leading or trailing `/`).
    pub prefix: ObjectPath,
    /// What to show people.
    pub display: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("location", &self.display)
            .finish()
    }
}

impl Opened {
    /// The object path of `relative` (slash-separated) under the root.
    pub fn path(&self, relative: &str) -> ObjectPath {
        let mut p = self.prefix.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            p = p.join(part);
        }
        p
    }

    /// The URL DataFusion reads `relative` under the root by (a folder when it ends in `/`).
    pub fn url(&self, relative: &str) -> String {
        let base = self.store_url.as_str();
        let separator = if base.ends_with('/') { "" } else { "/" };
        let path = self.path(relative);
        let slash = if relative.ends_with('/') || relative.is_empty() {
            "/"
        } else {
            ""
        };
        format!("{base}{separator}{path}{slash}")
    }

    /// Makes the store known to a DataFusion session.
    pub fn register(&self, ctx: &SessionContext) {
        ctx.register_object_store(&self.store_url, self.store.clone());
    }

    /// True for an S3 location.
    pub fn is_s3(&self) -> bool {
        self.store_url.scheme() == "s3"
    }
}

/// Opens a location. A local folder must exist unless `create` is set.
pub async fn open(location: &Location, create: bool) -> Result<Opened, StorageError> {
    let err = |message: String| StorageError::Open {
        location: location.to_string(),
        message,
    };
    match location {
        Location::Local(dir) => {
            if create {
                create_folder(dir).map_err(err)?;
            }
            if !dir.is_dir() {
                return Err(err("no such folder".into()));
            }
            let absolute = dir.canonicalize().map_err(|e| err(e.to_string()))?;
            Ok(Opened {
                store: Arc::new(LocalFileSystem::new()),
                store_url: Url::parse("file:///").expect("static url"),
                prefix: ObjectPath::from_absolute_path(&absolute)
                    .map_err(|e| err(e.to_string()))?,
                display: dir.display().to_string(),
            })
        }
        Location::S3(s3) => open_s3(s3).await,
    }
}

/// Makes `dir` and its missing parents; the error names the first folder that could not be
/// made and why.
pub fn create_folder(dir: &std::path::Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = vec![dir];
    while let Some(parent) = missing.last().and_then(|d| d.parent()) {
        if parent.as_os_str().is_empty() || parent.is_dir() {
            break;
        }
        missing.push(parent);
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(format!("cannot create the folder {}: {e}", d.display())),
        }
    }
    Ok(())
}

/// Checks without creating anything that a local output folder could be written: the folder,
/// or its nearest existing parent, is a folder a file can be made in.
pub fn check_local_output(dir: &std::path::Path) -> Result<(), String> {
    let mut at = dir;
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => {
                at = std::path::Path::new(".");
                break;
            }
        }
    }
    if !at.is_dir() {
        return Err(format!("{} is not a folder", at.display()));
    }
    tempfile::tempfile_in(at)
        .map(drop)
        .map_err(|e| format!("cannot write in {}: {e}", at.display()))
}

/// Checks that an opened output can be listed and written: lists its root and writes, then
/// deletes, one small object under `_okrflow/` (`validate --online`).
pub async fn check_writable(opened: &Opened) -> Result<(), String> {
    use futures::{StreamExt, TryStreamExt};
    use object_store::ObjectStoreExt;
    let _: Vec<_> = opened
        .store
        .list(Some(&opened.prefix))
        .take(1)
        .try_collect()
        .await
        .map_err(|e| format!("cannot list {}: {e}", opened.display))?;
    let probe = opened.path(&format!(
        "_okrflow/validate-{}",
        uuid::Uuid::new_v4().simple()
    ));
    opened
        .store
        .put(&probe, "okrflow validate --online".into())
        .await
        .map_err(|e| format!("cannot write in {}: {e}", opened.display))?;
    opened
        .store
        .delete(&probe)
        .await
        .map_err(|e| format!("wrote but cannot delete {probe} in {}: {e}", opened.display))
}

/// The objects below `prefix` in `opened`'s store that `keep` accepts, in name order.
pub async fn list_sorted(
    opened: &Opened,
    prefix: &ObjectPath,
    keep: impl Fn(&ObjectMeta) -> bool,
) -> Result<Vec<ObjectMeta>, object_store::Error> {
    use futures::TryStreamExt;
    let mut metas: Vec<ObjectMeta> = opened.store.list(Some(prefix)).try_collect().await?;
    metas.retain(|m| keep(m));
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(metas)
}

/// The S3 endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (S3-compatible stores,
/// tests); `None` for AWS itself.
fn endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

/// The AWS SDK configuration of a connection or output: its profile and region, and the
/// access key in the environment variables it names, else the default credential chain.
pub async fn aws_sdk_config(aws: &S3Options) -> Result<aws_config::SdkConfig, String> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &aws.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let (Some(key_env), Some(secret_env)) = (&aws.access_key_id_env, &aws.secret_access_key_env)
    {
        let key = Secret::from_env(key_env, "AWS access key id").map_err(|e| e.to_string())?;
        let secret =
            Secret::from_env(secret_env, "AWS secret access key").map_err(|e| e.to_string())?;
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            key.expose(),
            secret.expose(),
            None,
            None,
            "okrflow-job-environment",
        ));
    }
    Ok(loader.load().await)
}

async fn open_s3(s3: &S3Location) -> Result<Opened, StorageError> {
    let display = s3.to_string();
    let open_err = |message: String| StorageError::Open {
        location: display.clone(),
        message,
    };
    let cred_err = |message: String| StorageError::Credentials {
        location: display.clone(),
        message,
    };
    let sdk = aws_sdk_config(&s3.aws).await.map_err(cred_err)?;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| cred_err("the AWS credential chain is empty".into()))?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let credentials = Arc::new(CachedCredentials::new(provider));
    // Resolve once now, so a missing credential is one clear error instead of one per request.
    credentials
        .get_credential()
        .await
        .map_err(|e| cred_err(error_chain(&e)))?;
    // A few retries of 5xx and dropped connections, bounded in time: a failing upload should
    // fail the run in seconds, not minutes.
    let retry = object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(region)
        .with_credentials(credentials)
        .with_retry(retry);
    if let Some(endpoint) = endpoint() {
        let checked = crate::net::check_base_url(&endpoint)
            .map_err(|e| open_err(format!("AWS endpoint: {e}")))?;
        builder = builder
            .with_allow_http(checked.scheme() == "http")
            .with_endpoint(endpoint);
    }
    let store = builder.build().map_err(|e| open_err(error_chain(&e)))?;
    Ok(Opened {
        store: Arc::new(store),
        store_url: Url::parse(&format!("s3://{}", s3.bucket))
            .map_err(|e| open_err(e.to_string()))?,
        prefix: ObjectPath::from(s3.prefix.as_str()),
        display,
    })
}

/// Renew cached credentials this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// The aws-config credential chain as an object_store credential provider, with the cache
/// object_store does not add to providers it is given (without it, SSO, assume-role and
/// instance credentials would be fetched for every request).
pub struct CachedCredentials {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl CachedCredentials {
    fn new(provider: SharedCredentialsProvider) -> CachedCredentials {
        CachedCredentials {
            provider,
            cached: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for CachedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachedCredentials([redacted])")
    }
}

#[async_trait::async_trait]
impl CredentialProvider for CachedCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref()
            && expiry.is_none_or(|e| SystemTime::now() + EXPIRY_MARGIN < e)
        {
            return Ok(credential.clone());
        }
        let c = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().into(),
            secret_key: c.secret_access_key().into(),
            token: c.session_token().map(Into::into),
        });
        *cached = Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_folder_opens_with_urls_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(&Location::Local(dir.path().join("out")), true)
            .await
            .unwrap();
        let root = dir.path().join("out").canonicalize().unwrap();
        assert_eq!(
            opened.url("kr_snapshots/"),
            format!("file://{}/kr_snapshots/", root.display())
        );
        assert_eq!(
            opened.path("a/b.json").to_string(),
            format!("{}/a/b.json", root.display()).trim_start_matches('/')
        );
        assert!(!opened.is_s3());
        let missing = open(&Location::Local(dir.path().join("nope")), false)
            .await
            .unwrap_err();
        assert!(missing.to_string().ends_with("no such folder"), "{missing}");
    }

    #[tokio::test]
    async fn cached_credentials_are_reused_until_they_near_expiry() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        #[derive(Debug)]
        struct Counting(Arc<AtomicUsize>, Option<SystemTime>);
        impl ProvideCredentials for Counting {
            fn provide_credentials<'a>(
                &'a self,
            ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                self.0.fetch_add(1, Ordering::SeqCst);
                aws_credential_types::provider::future::ProvideCredentials::ready(Ok(
                    aws_credential_types::Credentials::new("AKIA", "secret", None, self.1, "test"),
                ))
            }
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let later = SystemTime::now() + Duration::from_secs(3600);
        let c = CachedCredentials::new(SharedCredentialsProvider::new(Counting(
            calls.clone(),
            Some(later),
        )));
        for _ in 0..5 {
            assert_eq!(c.get_credential().await.unwrap().key_id, "AKIA");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Credentials expiring within the margin are fetched again every time.
        let soon = SystemTime::now() + Duration::from_secs(60);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = CachedCredentials::new(SharedCredentialsProvider::new(Counting(
            calls.clone(),
            Some(soon),
        )));
        c.get_credential().await.unwrap();
        c.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(format!("{c:?}"), "CachedCredentials([redacted])");
    }
}

/// A lock per `key` (a state folder's URL) within this process, so that concurrent runs of one
/// output's dates (a backfill) use what one of them keeps one at a time; the output's lock
/// keeps other processes out.
pub fn in_process_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    locks.entry(key.to_string()).or_default().clone()
}
