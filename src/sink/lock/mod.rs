//! One run at a time per output: a fenced lease on a lock object at
//! `<output>/_okrflow/lock.json` (ignored by Athena and Hive readers).
//!
//! - **Acquire**: create the object only if absent; if it exists and its lease is over (or
//!   it was released), replace it only if it is still the version read, with the epoch one
//!   higher. Two runs that start together: exactly one wins, the other is told who holds it.
//! - **Renew**: a background task pushes the expiry forward every `renew_every` by a
//!   conditional replace of the version it last wrote. If the object changed (another run
//!   took it over after this one stalled past its expiry) the lease is lost.
//! - **Confirm**: right before a commit, a renewal now; a lost lease aborts the commit with
//!   nothing written. The lease then runs a full `ttl` from the confirmation, far longer than
//!   a commit takes.
//! - **Release**: a conditional replace with a released record, only while still ours. The
//!   object is never deleted (object_store has no conditional delete, and an unconditional one
//!   could remove the next run's lock); a released or expired record is free to take.
//!
//! A lock that cannot be read (the store fails, or the body is not a lock) is an error, never
//! a free lock. The compare-and-swap itself is in [`cell`].

mod cell;

use super::SinkError;
use crate::storage::Opened;
use cell::{Cell, Version};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Where the lock object is, under the output.
const LOCK: &str = "_okrflow/lock.json";
/// The guard a local folder's compare-and-swap holds (see [`cell`]).
const GUARD: &str = "_okrflow/lock.guard";

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeaseTerms {
    /// From the last renewal to the expiry: how long a killed run's lock blocks the next.
    pub ttl: Duration,
    /// How often the holder renews it.
    pub renew_every: Duration,
}

impl Default for LeaseTerms {
    /// Ten minutes, renewed every two; `OKRFLOW_LEASE_SECONDS` sets the length (the renewal
    /// is a fifth of it).
    fn default() -> Self {
        let secs = std::env::var("OKRFLOW_LEASE_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(600.0);
        LeaseTerms::of(Duration::from_secs_f64(secs))
    }
}

impl LeaseTerms {
    /// A lease of `ttl`, renewed every fifth of it.
    pub fn of(ttl: Duration) -> Self {
        LeaseTerms {
            ttl,
            renew_every: ttl / 5,
        }
    }

    /// How long after the expiry a lease is still respected, for clocks that disagree.
    fn skew(&self) -> chrono::Duration {
        chrono::Duration::from_std((self.ttl / 10).min(Duration::from_secs(30))).unwrap_or_default()
    }

    fn expiry(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(10))
    }
}

/// What the lock object says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub job: String,
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who holds it: a random id per acquisition (a host name and pid are not unique across
    /// containers).
    #[serde(default)]
    pub owner: String,
    /// The fencing token: one more at every takeover.
    #[serde(default)]
    pub epoch: u64,
    /// Given up by its run: free to take.
    #[serde(default)]
    pub released: bool,
    /// The kernel boot and pid namespace the holder ran in (`boot_id/pid:[…]`): where its pid
    /// means something. Empty when unknown.
    #[serde(default)]
    pub pid_space: String,
}

impl LockInfo {
    fn body(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("lock info serialises")
    }

    fn is_free(&self, terms: &LeaseTerms) -> bool {
        self.released || self.expires_at + terms.skew() < Utc::now() || self.is_dead_here()
    }

    /// True when the holder ran in this kernel boot and pid namespace and its process is gone
    /// (killed, crashed): its lock need not wait for the lease. A host name is not enough
    /// (containers share them); another boot or namespace never counts as dead here.
    fn is_dead_here(&self) -> bool {
        let here = pid_space();
        if self.pid_space.is_empty() || self.pid_space != here || self.pid == std::process::id() {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

/// This process's kernel boot id and pid namespace, or empty when either is unknown.
fn pid_space() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap_or_default();
    match (boot.trim(), ns.to_string_lossy()) {
        ("", _) => String::new(),
        (_, n) if n.is_empty() => String::new(),
        (b, n) => format!("{b}/{n}"),
    }
}

/// The lease as its holder knows it.
struct Held {
    info: LockInfo,
    version: Version,
    /// Why it was lost, once it is.
    lost: Option<String>,
}

/// What the holder and its renewal task share.
struct Shared {
    cell: Cell,
    terms: LeaseTerms,
    held: Mutex<Held>,
    path: PathBuf,
}

/// A held lease, renewed in the background until [`RunLock::release`] or drop.
pub struct RunLock {
    shared: Arc<Shared>,
    renewal: tokio::task::JoinHandle<()>,
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
        terms: LeaseTerms,
    ) -> Result<RunLock, SinkError> {
        let path = PathBuf::from(opened.url(LOCK));
        let err = |message: String| SinkError::Lock {
            path: path.clone(),
            message,
        };
        let cell = Cell::new(opened, LOCK, GUARD);
        let now = Utc::now();
        let mut info = LockInfo {
            job: job.into(),
            run_id: run_id.into(),
            pid: std::process::id(),
            host: host(),
            started_at: now,
            expires_at: terms.expiry(),
            owner: uuid::Uuid::new_v4().simple().to_string(),
            epoch: 1,
            released: false,
            pid_space: pid_space(),
        };
        for _ in 0..3 {
            if let Ok(version) = cell.create(info.body()).await.map_err(&err)? {
                return Ok(RunLock::hold(cell, terms, info, version, path));
            }
            let Some((body, version)) = cell.read().await.map_err(&err)? else {
                continue; // gone between the two: try to create it again
            };
            let held: LockInfo = serde_json::from_slice(&body).map_err(|e| {
                err(format!(
                    "it is not an okrflow lock ({e}); if no run is writing, delete it"
                ))
            })?;
            if !held.is_free(&terms) {
                return Err(SinkError::Locked {
                    path,
                    holder: Box::new(held),
                });
            }
            info.epoch = held.epoch + 1;
            info.expires_at = terms.expiry();
            if let Ok(version) = cell.replace(info.body(), &version).await.map_err(&err)? {
                if !held.released {
                    tracing::warn!(lock = %path.display(), holder = %held.run_id, expires = %held.expires_at, "took over the lock of a run that died or stopped renewing");
                }
                return Ok(RunLock::hold(cell, terms, info, version, path));
            }
            // another run took it at the same moment: look again
        }
        Err(err("other runs keep taking it at the same moment".into()))
    }

    fn hold(
        cell: Cell,
        terms: LeaseTerms,
        info: LockInfo,
        version: Version,
        path: PathBuf,
    ) -> Self {
        let shared = Arc::new(Shared {
            cell,
            terms,
            held: Mutex::new(Held {
                info,
                version,
                lost: None,
            }),
            path,
        });
        let renewing = shared.clone();
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(renewing.terms.renew_every).await;
                if let Err(e) = renewing.renew().await {
                    tracing::error!(error = %e, "the run lost its lock; it will not commit");
                    return;
                }
            }
        });
        RunLock { shared, renewal }
    }

    /// The lease's epoch (its fencing token).
    pub async fn epoch(&self) -> u64 {
        self.shared.held.lock().await.info.epoch
    }

    /// Renews the lease now: call right before a commit. An error means the lease is lost
    /// (taken over, or not renewable before its expiry) and nothing may be written.
    pub async fn confirm(&self) -> Result<(), SinkError> {
        self.shared.renew().await
    }

    /// Gives the lock up, only while it is still ours. A failure is only logged: the lease
    /// expires anyway.
    pub async fn release(self) {
        self.renewal.abort();
        let mut held = self.shared.held.lock().await;
        if held.lost.is_some() {
            return;
        }
        let mut info = held.info.clone();
        info.released = true;
        info.expires_at = Utc::now();
        match self.shared.cell.replace(info.body(), &held.version).await {
            Ok(Ok(version)) => {
                held.info = info;
                held.version = version;
            }
            Ok(Err(_)) => {
                tracing::warn!(lock = %self.shared.path.display(), "the lock was taken over before it was released; left as it is")
            }
            Err(e) => {
                tracing::warn!(lock = %self.shared.path.display(), error = %e, "cannot release the run lock; it expires on its own")
            }
        }
    }
}

impl Drop for RunLock {
    /// A lock dropped without release (an error or a panic unwinding) stops renewing and
    /// expires after its lease.
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

impl Shared {
    /// Pushes the expiry a lease from now, if the lock is still ours.
    async fn renew(&self) -> Result<(), SinkError> {
        let mut held = self.held.lock().await;
        let err = |message: String| SinkError::Lock {
            path: self.path.clone(),
            message,
        };
        if let Some(why) = &held.lost {
            return Err(err(why.clone()));
        }
        for _ in 0..2 {
            let mut info = held.info.clone();
            info.expires_at = self.terms.expiry();
            match self.cell.replace(info.body(), &held.version).await {
                Ok(Ok(version)) => {
                    held.info = info;
                    held.version = version;
                    return Ok(());
                }
                Ok(Err(_)) => {
                    // changed since our last write: still ours only if a write of ours landed
                    // without its answer reaching us
                    let now = self.cell.read().await.ok().flatten();
                    let mine = now.as_ref().and_then(|(body, version)| {
                        let info: LockInfo = serde_json::from_slice(body).ok()?;
                        (info.owner == held.info.owner
                            && info.epoch == held.info.epoch
                            && !info.released)
                            .then(|| version.clone())
                    });
                    match mine {
                        Some(version) => held.version = version,
                        None => {
                            let by = now
                                .and_then(|(b, _)| serde_json::from_slice::<LockInfo>(&b).ok())
                                .map_or("removed".to_string(), |i| {
                                    format!("taken over by run {} (epoch {})", i.run_id, i.epoch)
                                });
                            let why =
                                format!("the lease of run {} was lost: {by}", held.info.run_id);
                            held.lost = Some(why.clone());
                            return Err(err(why));
                        }
                    }
                }
                Err(e) if Utc::now() < held.info.expires_at => {
                    tracing::warn!(lock = %self.path.display(), error = %e, "cannot renew the run lock yet; trying again");
                    return Ok(());
                }
                Err(e) => {
                    let why = format!("cannot renew it before it expired: {e}");
                    held.lost = Some(why.clone());
                    return Err(err(why));
                }
            }
        }
        Err(err("it keeps changing under its holder".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Location;

    async fn folder() -> (tempfile::TempDir, Opened) {
        let dir = tempfile::tempdir().unwrap();
        let opened = crate::storage::open(&Location::Local(dir.path().to_path_buf()), true)
            .await
            .unwrap();
        (dir, opened)
    }

    fn lock_file(dir: &tempfile::TempDir) -> LockInfo {
        serde_json::from_slice(&std::fs::read(dir.path().join(LOCK)).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_second_run_is_refused_until_the_first_releases_or_its_lease_runs_out() {
        let (dir, opened) = folder().await;
        let long = LeaseTerms::of(Duration::from_secs(600));
        let first = RunLock::acquire(&opened, "demo", "run-1", long)
            .await
            .unwrap();
        let refused = RunLock::acquire(&opened, "demo", "run-2", long)
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
        assert!(lock_file(&dir).released, "released, not deleted");
        // run-2 stops renewing (a lease of 50 ms renewed hourly) and is taken over
        let stalled = LeaseTerms {
            ttl: Duration::from_millis(50),
            renew_every: Duration::from_secs(3600),
        };
        let second = RunLock::acquire(&opened, "demo", "run-2", stalled)
            .await
            .unwrap();
        assert_eq!(second.epoch().await, 2);
        // 50 ms, and the tenth of a second a 1 s lease allows for clocks that disagree
        tokio::time::sleep(Duration::from_millis(250)).await;
        let third = RunLock::acquire(
            &opened,
            "demo",
            "run-3",
            LeaseTerms::of(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        assert_eq!(
            (lock_file(&dir).run_id.as_str(), third.epoch().await),
            ("run-3", 3)
        );
        // run-2 wakes up: its commit is refused, and its release leaves run-3's lock alone
        let late = second.confirm().await.err().unwrap().to_string();
        assert!(late.contains("taken over by run run-3 (epoch 3)"), "{late}");
        second.release().await;
        assert_eq!(lock_file(&dir).run_id, "run-3");
        assert!(!lock_file(&dir).released);
        third.confirm().await.unwrap();
        third.release().await;
    }

    #[tokio::test]
    async fn a_run_that_outlives_several_leases_keeps_its_lock() {
        let (dir, opened) = folder().await;
        let short = LeaseTerms::of(Duration::from_millis(200));
        let first = RunLock::acquire(&opened, "demo", "run-1", short)
            .await
            .unwrap();
        let expiry = lock_file(&dir).expires_at;
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let refused = RunLock::acquire(&opened, "demo", "run-2", short).await;
            assert!(
                matches!(refused, Err(SinkError::Locked { .. })),
                "renewed in time"
            );
        }
        assert!(lock_file(&dir).expires_at > expiry + chrono::Duration::milliseconds(300));
        first.confirm().await.unwrap();
        first.release().await;
    }

    #[tokio::test]
    async fn an_unreadable_lock_is_an_error_not_a_free_lock() {
        let (dir, opened) = folder().await;
        std::fs::create_dir_all(dir.path().join("_okrflow")).unwrap();
        std::fs::write(dir.path().join(LOCK), "{ half a lock").unwrap();
        let e = RunLock::acquire(&opened, "demo", "run-1", LeaseTerms::default())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("not an okrflow lock") && e.contains("lock.json"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK)).unwrap(),
            "{ half a lock"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_runs_started_together_exactly_one_holds_the_lock() {
        let (dir, opened) = folder().await;
        // an expired lock, so that every run tries the takeover too
        let stale = LeaseTerms::of(Duration::from_millis(1));
        drop(
            RunLock::acquire(&opened, "demo", "run-0", stale)
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        let tries = (0..8).map(|i| {
            let opened = opened.clone();
            let terms = LeaseTerms::of(Duration::from_secs(1));
            tokio::spawn(async move {
                RunLock::acquire(&opened, "demo", &format!("run-{}", i + 1), terms).await
            })
        });
        let results: Vec<_> = futures::future::join_all(tries)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let winners: Vec<&RunLock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1);
        assert_eq!(lock_file(&dir).epoch, 2);
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, SinkError::Locked { .. }), "{e}");
            }
        }
    }
}
