//! Where data is read from or written to: a local folder or an S3 prefix, resolved from a
//! job file's `url`.

use super::job::S3Options;
use std::path::{Path, PathBuf};

/// A place data is read from or written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder (absolute, or relative to the working directory).
    Local(PathBuf),
    /// An S3 prefix.
    S3(S3Location),
}

/// An S3 prefix and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// How the bucket is reached: profile, region, key variables.
    pub aws: S3Options,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3(s) => s.fmt(f),
        }
    }
}

impl Location {
    /// Resolves a job-file `url` against the job file's folder; `s3` says how an `s3://`
    /// url is reached.
    pub fn parse(url: &str, base_dir: &Path, s3: &S3Options) -> Result<Location, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("url is empty".into());
        }
        let s3_given = s3 != &S3Options::default();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("url `{url}` has no bucket"));
            }
            s3.check_keys()?;
            return Ok(Location::S3(S3Location {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                aws: s3.clone(),
            }));
        }
        if s3_given {
            return Err(format!(
                "profile, region and the access key variables apply to s3:// urls only, not `{url}`"
            ));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            if scheme == "file" {
                return Ok(Location::Local(PathBuf::from(&url["file://".len()..])));
            }
            return Err(format!(
                "url `{url}`: use a local folder or s3://bucket/prefix/ (`{scheme}://` is not supported)"
            ));
        }
        let path = Path::new(url);
        Ok(Location::Local(normalise(&if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        })))
    }
}

/// `path` without `.` components and with each `name/..` pair removed, as people write it
/// (`jobs/../out` is `out`). Lexical: the folder need not exist yet. A `..` that climbs above
/// a relative path's start is kept; an empty result is `.`.
pub fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_printed_normalised() {
        let n = |p: &str| normalise(Path::new(p)).display().to_string();
        assert_eq!(n("jobs/../out"), "out");
        assert_eq!(n("./jobs/./demo/../out/"), "jobs/out");
        assert_eq!(n("../x/../../y"), "../../y");
        assert_eq!(n("/a/../../b"), "/b");
        assert_eq!(n("jobs/.."), ".");
        let demo = Location::parse("../out", Path::new("jobs"), &S3Options::default()).unwrap();
        assert_eq!(demo.to_string(), "out");
    }
}
