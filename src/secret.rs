//! Secrets (client secrets, API tokens, access keys): read from the environment only, and
//! redacted wherever they could be printed.

use std::fmt;

/// A secret value. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`] gives
/// the value, at the one place it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {var} is not set (it should hold the {what})")]
    Missing { var: String, what: String },
    #[error("environment variable {var} is empty (it should hold the {what})")]
    Empty { var: String, what: String },
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Reads the environment variable `var`; `what` says what it holds, for the error.
    pub fn from_env(var: &str, what: &str) -> Result<Secret, SecretError> {
        match std::env::var(var) {
            Ok(v) if v.trim().is_empty() => Err(SecretError::Empty {
                var: var.into(),
                what: what.into(),
            }),
            Ok(v) => Ok(Secret(v)),
            Err(_) => Err(SecretError::Missing {
                var: var.into(),
                what: what.into(),
            }),
        }
    }

    /// The value itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(
            format!("{:?}", Some(("x", s.clone()))),
            "Some((\"x\", Secret([redacted])))"
        );
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn missing_and_empty_variables_are_named() {
        let e =
            Secret::from_env("OKRFLOW_TEST_SURELY_UNSET_VAR", "Looker client secret").unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable OKRFLOW_TEST_SURELY_UNSET_VAR is not set (it should hold the Looker client secret)"
        );
    }
}
