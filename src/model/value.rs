//! What a source measured for one key result: a number, nothing yet, or why it could not.
//! Below both the engine (which registers the values for scoring) and the sources (which
//! produce them).

/// The raw value a source found for one key result, or why it could not.
#[derive(Debug, Clone, PartialEq)]
pub struct KrValue {
    pub kr_id: String,
    /// What the source measured, or the error that is written to the snapshot's `error`
    /// column (a failure: the source could not answer).
    pub value: Result<Measured, SourceError>,
}

impl KrValue {
    /// The measured number, if there is one.
    pub fn number(&self) -> Option<f64> {
        self.value.as_ref().ok().and_then(Measured::number)
    }
}

/// What a source that answered measured: a number, or nothing yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Value(f64),
    /// A number and where exactly it came from (a check-in's date, author, file and line),
    /// written to the snapshot's `note`.
    Traced {
        value: f64,
        source: String,
    },
    /// The source answered and there is nothing to measure yet (an aggregate over no rows,
    /// a JQL that matches no issue, no Looker cell for the date). Not a failure: the row's
    /// status is `no_data` and this text, saying why, is its `note`.
    NoData(String),
}

impl Measured {
    /// The number, if one was measured.
    pub fn number(&self) -> Option<f64> {
        match self {
            Measured::Value(v) | Measured::Traced { value: v, .. } => Some(*v),
            Measured::NoData(_) => None,
        }
    }

    /// Why there is no number, for `no_data`; where the number came from, when traced.
    pub fn note(&self) -> Option<&str> {
        match self {
            Measured::Value(_) => None,
            Measured::NoData(note) | Measured::Traced { source: note, .. } => Some(note),
        }
    }
}

/// Why a source could not produce a key result's value. Variants carry the key result and
/// connection they are about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The source's data could not be read at all (every KR on the connection fails with it).
    #[error("connection `{connection}`: cannot read {location}: {message}")]
    Unreadable {
        connection: String,
        location: String,
        message: String,
    },
    /// The key result's SQL failed to plan or run.
    #[error("key result {kr_id}: query failed: {message}")]
    Query { kr_id: String, message: String },
    /// The key result's SQL does not plan against its source's tables (an unknown column, a
    /// type error, not one numeric column): found before any data is read.
    #[error("key result {kr_id} (job file line {line}): sql does not plan: {message}")]
    Plan {
        kr_id: String,
        line: usize,
        message: String,
    },
    /// An API source (Looker, Jira) could not give the key result's data.
    #[error("connection `{connection}`: {message}")]
    Api { connection: String, message: String },
    /// The key result's SQL ran but did not return one number.
    #[error("key result {kr_id}: {message}")]
    NotOneNumber { kr_id: String, message: String },
    /// A backfill of other key results kept this one's error from the date's snapshot.
    #[error("{message}")]
    Kept { message: String },
    /// The key result cannot work as configured (an unset secret variable, an unknown
    /// dashboard, tile or look, a JQL Jira rejects, SQL that does not plan): it will fail
    /// again tomorrow until the job or its environment is fixed. Says the same as the error
    /// it wraps; the run exits with its own code ([`Cause::Configuration`]).
    #[error(transparent)]
    Configuration(Box<SourceError>),
}

/// Why a key result failed: the job cannot work as configured, or its source failed today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A wrong job file or environment: fixing them, not waiting, makes it work.
    Configuration,
    /// The source could not answer today (unreachable, throttled, timed out, unreadable).
    Today,
}

impl Cause {
    /// The more serious of two causes (configuration over today's failure).
    pub fn worst(self, other: Cause) -> Cause {
        if self == Cause::Configuration || other == Cause::Configuration {
            Cause::Configuration
        } else {
            Cause::Today
        }
    }
}

/// An error that knows whether it is a configuration error or a failure of today.
pub trait HasCause {
    /// Why it failed.
    fn cause(&self) -> Cause;
}

impl SourceError {
    /// Why it failed: a key result whose SQL does not plan, or any error marked
    /// [`SourceError::Configuration`], is a configuration error; the others failed today.
    pub fn cause(&self) -> Cause {
        match self {
            SourceError::Plan { .. } | SourceError::Configuration(_) => Cause::Configuration,
            _ => Cause::Today,
        }
    }

    /// This error, marked as `cause` (a configuration error is wrapped once).
    pub fn with_cause(self, cause: Cause) -> SourceError {
        match (cause, self.cause()) {
            (Cause::Configuration, Cause::Today) => SourceError::Configuration(Box::new(self)),
            _ => self,
        }
    }
}
