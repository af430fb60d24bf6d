//! One run at a time per output: a lock object at `<output>/_okrflow/lock.json` (ignored by
//! Athena and Hive readers), created only if absent, holding the run and an expiry. A second
//! run finds it and stops with a message naming the holder; a lock whose run died is taken
//! over once it has expired.

use super::SinkError;
use crate::storage::Opened;
use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// How long a lock holds when its run does not release it (a run that was killed).
pub const LOCK_TTL: Duration = Duration::from_secs(2 * 3600);

/// What the lock object says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub job: String,
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl LockInfo {
    /// True when the holder ran on this host and its process is gone (killed, crashed), so
    /// the lock is abandoned before it expires.
    fn is_dead_here(&self) -> bool {
        if self.host != host() || self.pid == std::process::id() {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        // Signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

/// A held lock; release it with [`RunLock::release`].
pub struct RunLock {
    opened: Opened,
    path: object_store::path::Path,
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

impl RunLock {
    /// Takes the lock of `opened` for run `run_id`, or says who holds it.
    pub async fn acquire(
        opened: &Opened,
        job: &str,
        run_id: &str,
        ttl: Duration,
    ) -> Result<RunLock, SinkError> {
        let path = opened.path("_okrflow/lock.json");
        let where_ = PathBuf::from(opened.url("_okrflow/lock.json"));
        let err = |message: String| SinkError::Lock {
            path: where_.clone(),
            message,
        };
        let now = Utc::now();
        let info = LockInfo {
            job: job.into(),
            run_id: run_id.into(),
            pid: std::process::id(),
            host: host(),
            started_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(2)),
        };
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        for _ in 0..2 {
            match opened
                .store
                .put_opts(&path, body.clone().into(), create.clone())
                .await
            {
                Ok(_) => {
                    return Ok(RunLock {
                        opened: opened.clone(),
                        path,
                    });
                }
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(err(format!("cannot create it: {e}"))),
            }
            let held: Option<LockInfo> = match opened.store.get(&path).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok()),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(err(format!("cannot read it: {e}"))),
            };
            match held {
                Some(h) if h.expires_at > Utc::now() && !h.is_dead_here() => {
                    return Err(SinkError::Locked {
                        path: where_,
                        holder: h,
                    });
                }
                held => {
                    tracing::warn!(
                        lock = %where_.display(),
                        holder = ?held.map(|h| h.run_id),
                        "taking over an expired, abandoned or unreadable lock"
                    );
                    opened
                        .store
                        .delete(&path)
                        .await
                        .map_err(|e| err(format!("cannot remove the expired lock: {e}")))?;
                }
            }
        }
        Err(err("another run took the lock at the same moment".into()))
    }

    /// Gives the lock up. A failure is only logged: the lock expires anyway.
    /// Pushes the expiry `ttl` from now, so a long backfill keeps its lock.
    pub async fn renew(&self, ttl: Duration) -> Result<(), SinkError> {
        let err = |message: String| SinkError::Lock {
            path: PathBuf::from(self.opened.url("_okrflow/lock.json")),
            message,
        };
        let current = self
            .opened
            .store
            .get(&self.path)
            .await
            .map_err(|e| err(format!("cannot read it: {e}")))?
            .bytes()
            .await
            .map_err(|e| err(format!("cannot read it: {e}")))?;
        let mut info: LockInfo = serde_json::from_slice(&current)
            .map_err(|e| err(format!("it is not a lock file any more: {e}")))?;
        if info.pid != std::process::id() || info.host != host() {
            return Err(err(format!("it was taken over by run {}", info.run_id)));
        }
        info.expires_at =
            Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(2));
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        self.opened
            .store
            .put(&self.path, body.into())
            .await
            .map_err(|e| err(format!("cannot renew it: {e}")))?;
        Ok(())
    }

    pub async fn release(self) {
        if let Err(e) = self.opened.store.delete(&self.path).await {
            tracing::warn!(lock = %self.path, error = %e, "cannot remove the run lock; it expires on its own");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Location;

    #[tokio::test]
    async fn a_second_run_is_refused_until_the_first_releases_or_its_lock_expires() {
        let dir = tempfile::tempdir().unwrap();
        let opened = crate::storage::open(&Location::Local(dir.path().to_path_buf()), true)
            .await
            .unwrap();
        let first = RunLock::acquire(&opened, "demo", "run-1", LOCK_TTL)
            .await
            .unwrap();
        let refused = RunLock::acquire(&opened, "demo", "run-2", LOCK_TTL)
            .await
            .err()
            .unwrap();
        let text = refused.to_string();
        assert!(
            text.contains("is being written by run run-1 of job demo")
                && text.contains("lock.json"),
            "{text}"
        );
        first.release().await;
        let second = RunLock::acquire(&opened, "demo", "run-2", Duration::ZERO)
            .await
            .unwrap();
        // run-2 died without releasing, and its lock has expired: run-3 takes over.
        drop(second);
        let third = RunLock::acquire(&opened, "demo", "run-3", LOCK_TTL)
            .await
            .unwrap();
        let info: LockInfo =
            serde_json::from_slice(&std::fs::read(dir.path().join("_okrflow/lock.json")).unwrap())
                .unwrap();
        assert_eq!(info.run_id, "run-3");
        third.release().await;
        assert!(!dir.path().join("_okrflow/lock.json").exists());
    }
}
