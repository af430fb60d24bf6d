//! A Looker connection validated: the API root and the environment variables that hold the
//! API client's id and secret, over what every API connection has ([`ApiSettings`]).

use super::config::LookerConnection;
use crate::sources::http::{ApiCheck, ApiSettings};
use std::path::Path;

/// A validated Looker connection; its `base_url` is the API root with `…/api/4.0` stripped
/// (requests add it).
pub type LookerSettings = ApiSettings<LookerCredentials>;

/// Where a Looker connection's credentials are read from.
#[derive(Debug, Clone, PartialEq)]
pub struct LookerCredentials {
    pub client_id_env: String,
    pub client_secret_env: String,
}

impl LookerSettings {
    /// Checks a connection from the job file; `base_dir` resolves `replay`.
    pub fn from_config(
        c: &LookerConnection,
        base_dir: &Path,
    ) -> Result<LookerSettings, Vec<String>> {
        let mut check = ApiCheck::new(c, base_dir);
        if let Some(u) = check.base_url() {
            let path = u
                .path()
                .trim_end_matches('/')
                .trim_end_matches("/api/4.0")
                .to_string();
            u.set_path(&path);
        }
        for (key, var) in [
            ("client_id_env", &c.client_id_env),
            ("client_secret_env", &c.client_secret_env),
        ] {
            if var.trim().is_empty() {
                check
                    .problems
                    .push(format!("{key} must name an environment variable"));
            }
        }
        check.http();
        check.finish(LookerCredentials {
            client_id_env: c.client_id_env.trim().to_string(),
            client_secret_env: c.client_secret_env.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connection_settings_check_url_and_limits() {
        let c: LookerConnection = toml::from_str(
            "base_url = 'https://acme.cloud.looker.com/api/4.0/'\nclient_id_env = 'A'\nclient_secret_env = 'B'",
        )
        .unwrap();
        let s = LookerSettings::from_config(&c, Path::new("jobs")).unwrap();
        assert_eq!(s.base_url.as_str(), "https://acme.cloud.looker.com/");
        assert_eq!(s.http.timeout, Duration::from_secs(40));
        assert_eq!(s.http.concurrency, 4);
        let c: LookerConnection = toml::from_str(
            "base_url = 'http://acme.cloud.looker.com'\nclient_id_env = ''\nclient_secret_env = 'B'\ntimeout_secs = 0",
        )
        .unwrap();
        let e = LookerSettings::from_config(&c, Path::new("jobs")).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
    }
}
