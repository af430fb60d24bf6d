//! Stopping a run cleanly. `run`, `backfill` and `recompute` listen for SIGTERM (a
//! scheduler's or Kubernetes' stop) and SIGINT (Ctrl-C) with [`Stop::on_signals`]; the
//! pipeline races each step that may be dropped against [`Stop::race`] — extraction, scoring
//! and staging — and never the commit, so a run is either switched in whole or not at all.
//! A stopped command exits with 128 + the signal's number, as a shell reports a process the
//! signal killed: 130 for SIGINT, 143 for SIGTERM.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

/// The signals that stop a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM (a scheduler's stop, a Kubernetes eviction): exit 143.
    Terminate,
}

impl Signal {
    /// The signal's name, `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit code of a command it stopped: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A step was given up because a signal stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {0}")]
pub struct Stopped(pub Signal);

/// The process's stop: fired once, by the first signal; every clone sees it.
#[derive(Clone)]
pub struct Stop {
    fired: Arc<watch::Sender<Option<Signal>>>,
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stop").field(&self.signal()).finish()
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

impl Stop {
    /// A stop that fires only when [`Stop::fire`] is called (a library caller's, a test's).
    pub fn new() -> Stop {
        Stop {
            fired: Arc::new(watch::channel(None).0),
        }
    }

    /// A stop fired by the first SIGTERM or SIGINT the process receives from now on (they
    /// no longer end it at once). Called inside the runtime.
    pub fn on_signals() -> std::io::Result<Stop> {
        let stop = Stop::new();
        let listening = stop.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate = signal(SignalKind::terminate())?;
            let mut interrupt = signal(SignalKind::interrupt())?;
            tokio::spawn(async move {
                let signal = tokio::select! {
                    _ = terminate.recv() => Signal::Terminate,
                    _ = interrupt.recv() => Signal::Interrupt,
                };
                tracing::warn!(
                    signal = signal.name(),
                    "stopping: running queries are stopped, nothing more is committed"
                );
                listening.fire(signal);
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                listening.fire(Signal::Interrupt);
            }
        });
        Ok(stop)
    }

    /// Fires the stop; a stop already fired keeps its first signal.
    pub fn fire(&self, signal: Signal) {
        self.fired.send_if_modified(|s| {
            let first = s.is_none();
            if first {
                *s = Some(signal);
            }
            first
        });
    }

    /// The signal that fired it, if one has.
    pub fn signal(&self) -> Option<Signal> {
        *self.fired.borrow()
    }

    /// Waits until it fires.
    pub async fn fired(&self) -> Signal {
        let mut seen = self.fired.subscribe();
        let signal = *seen
            .wait_for(Option::is_some)
            .await
            .expect("the sender lives in self");
        signal.expect("waited for a signal")
    }

    /// `work`'s output, or [`Stopped`] when the stop fires first (or has fired already);
    /// `work` is then dropped where it waits.
    pub async fn race<F: Future>(&self, work: F) -> Result<F::Output, Stopped> {
        tokio::select! {
            biased;
            signal = self.fired() => Err(Stopped(signal)),
            out = work => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_first_signal_wins_and_drops_the_work() {
        let stop = Stop::new();
        assert_eq!(stop.race(async { 7 }).await, Ok(7));
        let other = stop.clone();
        let slow = stop.race(tokio::time::sleep(Duration::from_secs(600)));
        let fire = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            other.fire(Signal::Terminate);
            other.fire(Signal::Interrupt);
        };
        let (raced, ()) =
            tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(slow, fire) })
                .await
                .expect("the stop ends the wait");
        assert_eq!(raced, Err(Stopped(Signal::Terminate)));
        assert_eq!(stop.signal(), Some(Signal::Terminate));
        // Once fired, even work that is ready at once is not started.
        assert_eq!(
            stop.race(async { 7 }).await,
            Err(Stopped(Signal::Terminate))
        );
        assert_eq!(
            (Signal::Interrupt.exit_code(), Signal::Terminate.exit_code()),
            (130, 143)
        );
    }
}
