//! Network helpers below every layer that talks to a server (storage, the API sources):
//! checking a base URL, and an error with its sources as one line. Imports nothing of okrflow.

use url::Url;

/// Why a base URL is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BaseUrlError {
    #[error("base_url `{url}` is not a URL: {source}")]
    NotUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("base_url must not carry credentials; name environment variables instead")]
    Credentials,
    #[error(
        "base_url must not carry a query string or fragment (an `?api_key=…` would be printed \
         in errors and stored in `runs.errors`); name environment variables instead"
    )]
    Query,
    #[error("base_url `{url}` must use https (plain http is allowed on loopback only)")]
    PlainHttp { url: String },
    #[error("base_url `{url}`: unsupported scheme `{scheme}`")]
    Scheme { url: String, scheme: String },
}

/// Checks an API base URL: absolute, `https`, or `http` only on loopback; no user info, no
/// query string and no fragment (what they would carry is printed wherever the URL is).
pub(crate) fn check_base_url(url: &str) -> Result<Url, BaseUrlError> {
    let parsed = Url::parse(url.trim()).map_err(|source| BaseUrlError::NotUrl {
        url: url.into(),
        source,
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(BaseUrlError::Query);
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(BaseUrlError::PlainHttp { url: url.into() }),
        other => Err(BaseUrlError::Scheme {
            url: url.into(),
            scheme: other.into(),
        }),
    }
}

/// True when `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`): the one place
/// plain `http` is allowed.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// At most how many characters of a server's error message are kept (in errors, logs and
/// `runs.errors`): enough for Jira's or Looker's words, not a whole page.
pub(crate) const MESSAGE_CHARS: usize = 300;

/// `s` cut to [`MESSAGE_CHARS`] characters, with `…` when it was longer.
pub(crate) fn cut_message(s: &str) -> String {
    let mut out: String = s.chars().take(MESSAGE_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// An error with its sources, each once: `outer: inner: innermost`.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        assert!(check_base_url("https://acme.cloud.looker.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        let e = check_base_url("http://acme.cloud.looker.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must use https"), "{e}");
        let e = check_base_url("https://me:pw@acme.atlassian.net")
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials") && !e.contains("pw"), "{e}");
        for url in [
            "https://acme.atlassian.net/?api_key=s3cr3t",
            "https://acme.atlassian.net?",
            "https://acme.atlassian.net/#s3cr3t",
        ] {
            let e = check_base_url(url).unwrap_err().to_string();
            assert!(e.contains("query string") && !e.contains("s3cr3t"), "{e}");
        }
    }
}
