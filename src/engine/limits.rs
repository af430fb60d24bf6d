//! What DataFusion may use: one memory budget for the whole process (`[job]
//! memory_limit_mib`), of which a key result's own query may take half, and a time limit per
//! key-result query (`query_timeout_secs`).
//!
//! The budget is the process's, not a session's: every session okrflow makes draws on it
//! (a run's Tallyfy connections, the API sources' tables, scoring), so it is one pool set
//! once when the job is loaded rather than a value threaded through every layer.

use crate::model::Bounds;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::DiskManager;
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
    TrackConsumersPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::DataFrame;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// The process's budget: its bounds, the pool every session draws on, and one spill folder.
struct Budget {
    bounds: Bounds,
    pool: Arc<dyn MemoryPool>,
    disk: Arc<DiskManager>,
}

impl Budget {
    fn new(bounds: Bounds) -> Budget {
        let bytes = bounds.memory_limit_mib as usize * 1024 * 1024;
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(bytes),
            NonZeroUsize::new(3).expect("not zero"),
        );
        let disk = RuntimeEnvBuilder::new()
            .build()
            .expect("the default runtime builds")
            .disk_manager;
        Budget {
            bounds,
            pool: Arc::new(pool),
            disk,
        }
    }
}

static BUDGET: LazyLock<RwLock<Arc<Budget>>> =
    LazyLock::new(|| RwLock::new(Arc::new(Budget::new(Bounds::default()))));

fn budget() -> Arc<Budget> {
    BUDGET.read().expect("not poisoned").clone()
}

/// Sets the process's bounds (a job's `[job]`); sessions made from now on draw on a new pool
/// of that size.
pub fn set(bounds: Bounds) {
    if budget().bounds != bounds {
        *BUDGET.write().expect("not poisoned") = Arc::new(Budget::new(bounds));
    }
}

/// The bounds in force.
pub fn bounds() -> Bounds {
    budget().bounds
}

/// A runtime for a new session: its own object stores (a connection's credentials stay its
/// own), the process's memory pool and spill folder.
pub(super) fn session_runtime() -> Arc<RuntimeEnv> {
    let budget = budget();
    let mut builder = RuntimeEnvBuilder::new().with_memory_pool(budget.pool.clone());
    builder.disk_manager = Some(budget.disk.clone());
    builder.build_arc().expect("a runtime with a pool builds")
}

/// Why a key result's query was stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Stopped {
    #[error(
        "stopped after {secs} s: the job's query time limit ([job] query_timeout_secs = {secs})"
    )]
    Timeout { secs: u32 },
    #[error("{message}")]
    Failed { message: String },
}

/// Runs a key result's query with its share of the memory budget and the time limit: a
/// query past either fails alone, the others go on.
pub async fn collect(df: DataFrame) -> Result<Vec<RecordBatch>, Stopped> {
    let budget = budget();
    let secs = budget.bounds.query_timeout_secs;
    let (state, plan) = df.into_parts();
    let share = Share::new(budget.pool.clone(), budget.bounds.memory_limit_mib);
    let failed = |e: DataFusionError| Stopped::Failed {
        message: explain(&e.strip_backtrace()),
    };
    let work = async {
        let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(share))
            .build_arc()?;
        let physical = state.create_physical_plan(&plan).await?;
        let task = Arc::new(TaskContext::from(&state).with_runtime(runtime));
        datafusion::physical_plan::collect(physical, task).await
    };
    match tokio::time::timeout(Duration::from_secs(secs.into()), work).await {
        Ok(done) => done.map_err(failed),
        Err(_) => Err(Stopped::Timeout { secs }),
    }
}

/// A DataFusion message, with what to change when it ran out of memory.
pub fn explain(message: &str) -> String {
    if message.contains("Resources exhausted") {
        format!(
            "{message} (DataFusion's memory budget is {} MiB: [job] memory_limit_mib)",
            budget().bounds.memory_limit_mib
        )
    } else {
        message.to_string()
    }
}

/// A key result's query's share of the process's pool: at most half of the budget, so that
/// one query running away fails alone and leaves the other half to the queries beside it.
#[derive(Debug)]
struct Share {
    parent: Arc<dyn MemoryPool>,
    limit: usize,
    used: AtomicUsize,
}

impl Share {
    fn new(parent: Arc<dyn MemoryPool>, budget_mib: u32) -> Share {
        Share {
            parent,
            limit: budget_mib as usize * 1024 * 1024 / 2,
            used: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a key result's share ({} bytes) of {}",
            self.limit, self.parent
        )
    }
}

impl MemoryPool for Share {
    fn name(&self) -> &str {
        "key result share"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.parent.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.parent.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.parent.grow(reservation, additional);
        self.used.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.parent.shrink(reservation, shrink);
        self.used.fetch_sub(shrink, Ordering::Relaxed);
    }

    fn try_grow(
        &self,
        reservation: &MemoryReservation,
        additional: usize,
    ) -> datafusion::error::Result<()> {
        let used = self.used.fetch_add(additional, Ordering::Relaxed);
        if used + additional > self.limit {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "the query needs more than its share of memory: {} MiB, half the budget ({} held, {} more asked for {})",
                self.limit >> 20,
                used,
                additional,
                reservation.consumer().name()
            )));
        }
        self.parent
            .try_grow(reservation, additional)
            .inspect_err(|_| {
                self.used.fetch_sub(additional, Ordering::Relaxed);
            })
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_half_the_budget_and_gives_back_what_it_held() {
        let parent: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(64 << 20));
        let share: Arc<dyn MemoryPool> = Arc::new(Share::new(parent.clone(), 64));
        let reservation = MemoryConsumer::new("sort").register(&share);
        reservation.try_grow(30 << 20).unwrap();
        assert_eq!(parent.reserved(), 30 << 20);
        let e = reservation.try_grow(3 << 20).unwrap_err().strip_backtrace();
        assert!(
            e.contains("more than its share of memory: 32 MiB") && e.contains("for sort"),
            "{e}"
        );
        assert_eq!(share.reserved(), 30 << 20, "a refused growth holds nothing");
        drop(reservation);
        assert_eq!((share.reserved(), parent.reserved()), (0, 0));
    }
}
