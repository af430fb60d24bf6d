//! Reading check-in files: every `*.csv` under a connection's folder or S3 prefix, in name
//! order, parsed with the `csv` crate (quoted commas and newlines, a BOM, columns in any
//! order). Each file read is archived as it was (`raw/as_of=D/<connection>/<file>`), and a
//! recompute reads that archive instead.

use crate::model::Location;
use crate::sources::http::Archive;
use crate::sources::{ApiOptions, SourceError};
use chrono::NaiveDate;
use object_store::ObjectStoreExt;

/// One check-in row as read, typed where it could be; `problem` says why it cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckinRow {
    pub connection: String,
    /// The file as a reader finds it (`checkins/2027-01.csv`).
    pub file: String,
    /// The 1-based line the record starts on.
    pub line: u64,
    pub kr_id: String,
    pub date: Option<NaiveDate>,
    pub value: Option<f64>,
    /// `on_track`, `needs_attention` or `at_risk`.
    pub health: Option<String>,
    pub note: Option<String>,
    pub author: Option<String>,
    /// The owner's grade of the key result, 0 to 1 (`sql/kr_grades.sql`).
    pub score: Option<f64>,
    /// `file:line: column N (name): what is wrong`: the row fails its key result.
    pub problem: Option<String>,
}

/// What one connection's files held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    pub rows: Vec<CheckinRow>,
    /// Findings that lose nothing: an empty file, a row with neither value nor health.
    pub warnings: Vec<String>,
    /// The files read, in order.
    pub files: Vec<String>,
}

/// The largest check-in file read (64 MiB, some hundred thousand rows): a bigger one is
/// refused by its listed size before it is downloaded, so a stray export dropped into the
/// folder cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The three healths an owner can give, best first.
pub const HEALTHS: [&str; 3] = ["on_track", "needs_attention", "at_risk"];

/// Reads a connection's check-in files: from `api.replay`'s `<connection>/` folder when it
/// has one (recompute), else from `location`; archived into `api.archive` when set. Files
/// are named as under `location` either way, so a recompute's lineage names the same files.
pub async fn read(
    connection: &str,
    location: &Location,
    api: &ApiOptions,
) -> Result<Read, SourceError> {
    let replayed = api
        .replay
        .as_ref()
        .map(|d| d.join(connection))
        .filter(|d| d.is_dir());
    let shown = location.to_string();
    let location = match &replayed {
        Some(dir) => Location::Local(dir.clone()),
        None => location.clone(),
    };
    let unreadable = |message: String| SourceError::Unreadable {
        connection: connection.to_string(),
        location: location.to_string(),
        message,
    };
    let opened = crate::storage::open(&location, false)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let csv =
        |m: &object_store::ObjectMeta| m.location.as_ref().to_ascii_lowercase().ends_with(".csv");
    let metas = crate::storage::list_sorted(&opened, &opened.prefix, csv)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let mut out = Read::default();
    let archive = api.archive.as_ref().map(|a| a.child(connection));
    for meta in metas {
        let relative: Vec<String> = meta
            .location
            .prefix_match(&opened.prefix)
            .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
            .unwrap_or_default();
        let relative = relative.join("/");
        let file = format!("{}/{relative}", shown.trim_end_matches('/'));
        if meta.size > MAX_FILE_BYTES {
            return Err(unreadable(format!(
                "{file}: {} bytes, over the {} MiB a check-in file may have; split it or move \
                 it out of the folder",
                meta.size,
                MAX_FILE_BYTES / (1024 * 1024)
            )));
        }
        let bytes = opened
            .store
            .get(&meta.location)
            .await
            .map_err(|e| unreadable(format!("{file}: {e}")))?
            .bytes()
            .await
            .map_err(|e| unreadable(format!("{file}: {e}")))?;
        if let Some(archive) = &archive {
            put(archive, &relative, bytes.clone().into())
                .await
                .map_err(|e| unreadable(format!("cannot archive {file}: {e}")))?;
        }
        parse(connection, &file, &bytes, &mut out).map_err(unreadable)?;
        out.files.push(file);
    }
    if replayed.is_some() {
        tracing::info!(
            connection,
            files = out.files.len(),
            "check-ins read from the raw archive"
        );
    }
    Ok(out)
}

async fn put(
    archive: &Archive,
    relative: &str,
    payload: object_store::PutPayload,
) -> Result<(), String> {
    let mut path = archive.prefix.clone();
    for part in relative.split('/') {
        path = path.join(part);
    }
    archive
        .store
        .put(&path, payload)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Parses one file's bytes into `out`. A file that is not UTF-8 CSV, or has no `kr_id` or
/// `date` column, is an error naming it; an empty file is a warning.
pub fn parse(connection: &str, file: &str, bytes: &[u8], out: &mut Read) -> Result<(), String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        out.warnings
            .push(format!("{file}: the file is empty: no check-ins in it"));
        return Ok(());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "{file}: not UTF-8 text (byte {}): save it as UTF-8 CSV",
            e.valid_up_to() + 1
        )
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{file}: not CSV: {e}"))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(kr_col), Some(date_col)) = (column("kr_id"), column("date")) else {
        let missing: Vec<&str> = ["kr_id", "date"]
            .into_iter()
            .filter(|c| column(c).is_none())
            .collect();
        return Err(format!(
            "{file}: line 1: no {} column (the header has: {}); check-ins need kr_id,date and any of value,health,note,author,score",
            missing.join(" or "),
            headers.join(", ")
        ));
    };
    let known = [
        "kr_id", "date", "value", "health", "note", "author", "score",
    ];
    if let Some(unknown) = headers.iter().find(|h| !known.contains(&h.as_str())) {
        out.warnings.push(format!(
            "{file}: line 1: column `{unknown}` is not a check-in column and is ignored (known: {})",
            known.join(", ")
        ));
    }
    let (value_col, health_col) = (column("value"), column("health"));
    let (note_col, author_col) = (column("note"), column("author"));
    let score_col = column("score");
    for record in reader.records() {
        let record = record.map_err(|e| format!("{file}: not CSV: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let at = |i: usize, what: String| {
            format!("{file}:{line}: column {} ({}): {what}", i + 1, headers[i])
        };
        let mut problems = Vec::new();
        let kr_id = cell(Some(kr_col)).unwrap_or_default().to_string();
        if kr_id.is_empty() {
            problems.push(at(kr_col, "kr_id is empty".into()));
        }
        let date = match cell(Some(date_col)) {
            None => {
                problems.push(at(date_col, "date is empty".into()));
                None
            }
            Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(day) => Some(day),
                Err(_) => {
                    problems.push(at(date_col, format!("`{d}` is not a date like 2027-01-31")));
                    None
                }
            },
        };
        let value = match cell(value_col) {
            None => None,
            Some(v) => match v.parse::<f64>() {
                Ok(n) if n.is_finite() => Some(n),
                _ => {
                    problems.push(at(
                        value_col.expect("a cell has a column"),
                        format!("`{v}` is not a number"),
                    ));
                    None
                }
            },
        };
        let health = match cell(health_col) {
            None => None,
            Some(h) => {
                let normal = h.to_ascii_lowercase().replace([' ', '-'], "_");
                if HEALTHS.contains(&normal.as_str()) {
                    Some(normal)
                } else {
                    problems.push(at(
                        health_col.expect("a cell has a column"),
                        format!("`{h}` is not a health (use {})", HEALTHS.join(", ")),
                    ));
                    None
                }
            }
        };
        let score = match cell(score_col) {
            None => None,
            Some(v) => match v.parse::<f64>() {
                Ok(n) if (0.0..=1.0).contains(&n) => Some(n),
                _ => {
                    problems.push(at(
                        score_col.expect("a cell has a column"),
                        format!("`{v}` is not a score from 0 to 1"),
                    ));
                    None
                }
            },
        };
        if problems.is_empty() && value.is_none() && health.is_none() && score.is_none() {
            out.warnings.push(format!(
                "{file}:{line}: key result {kr_id}: the check-in has no value, health or score and is ignored"
            ));
            continue;
        }
        out.rows.push(CheckinRow {
            connection: connection.to_string(),
            file: file.to_string(),
            line,
            kr_id,
            date,
            value,
            health,
            note: cell(note_col).map(String::from),
            author: cell(author_col).map(String::from),
            score,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("2026-03.csv"), "kr_id,date,value\n").unwrap();
        // sparse: listed as over the limit, never written out
        let big = std::fs::File::create(dir.path().join("2026-04.csv")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let location = Location::Local(dir.path().to_path_buf());
        let e = read("checkins", &location, &ApiOptions::default())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("2026-04.csv") && e.contains("over the 64 MiB"),
            "{e}"
        );
        // at the limit it is read (and here fails as a CSV without the columns, not by size)
        big.set_len(MAX_FILE_BYTES).unwrap();
        let e = read("checkins", &location, &ApiOptions::default()).await;
        assert!(!format!("{e:?}").contains("over the 64 MiB"));
    }

    fn parsed(text: &str) -> Result<Read, String> {
        let mut out = Read::default();
        parse("c", "checkins/a.csv", text.as_bytes(), &mut out).map(|_| out)
    }

    #[test]
    fn quoted_commas_newlines_a_bom_and_any_column_order() {
        let r = parsed(
            "\u{feff}date,kr_id,health,value,note,author\n\
             2027-01-05,M1,on_track,20,\"analysis done, plan next\",dana\n\
             2027-01-09,M1,At Risk,,\"blocked on\nfinance\",\n",
        )
        .unwrap();
        assert_eq!(r.rows.len(), 2, "{r:?}");
        let (a, b) = (&r.rows[0], &r.rows[1]);
        assert_eq!(
            (a.line, a.value, a.health.as_deref(), a.note.as_deref()),
            (
                2,
                Some(20.0),
                Some("on_track"),
                Some("analysis done, plan next")
            )
        );
        assert_eq!(a.author.as_deref(), Some("dana"));
        assert_eq!(
            (
                b.line,
                b.value,
                b.health.as_deref(),
                b.note.as_deref(),
                b.author.as_deref()
            ),
            (3, None, Some("at_risk"), Some("blocked on\nfinance"), None)
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn bad_cells_name_file_line_and_column() {
        let r =
            parsed("kr_id,date,value,health\nM1,2027-01-05,lots,\nM2,05/01/2027,3,fine\n").unwrap();
        assert_eq!(
            r.rows[0].problem.as_deref(),
            Some("checkins/a.csv:2: column 3 (value): `lots` is not a number")
        );
        assert_eq!(
            r.rows[1].problem.as_deref(),
            Some(
                "checkins/a.csv:3: column 2 (date): `05/01/2027` is not a date like 2027-01-31; \
                 checkins/a.csv:3: column 4 (health): `fine` is not a health (use on_track, needs_attention, at_risk)"
            )
        );
    }

    #[test]
    fn an_empty_file_warns_and_a_missing_column_fails_the_file() {
        let r = parsed("").unwrap();
        assert_eq!(
            r.warnings,
            ["checkins/a.csv: the file is empty: no check-ins in it"]
        );
        assert_eq!(
            parsed("kr_id,value\nM1,3\n").unwrap_err(),
            "checkins/a.csv: line 1: no date column (the header has: kr_id, value); check-ins need kr_id,date and any of value,health,note,author,score"
        );
        assert!(
            parsed("kr_id,date\nM1,2027-01-01,3\n")
                .unwrap_err()
                .starts_with("checkins/a.csv: not CSV: "),
        );
        let r = parsed("kr_id,date,note\nM1,2027-01-01,just a comment\n").unwrap();
        assert!(r.rows.is_empty());
        assert!(r.warnings[0].contains("no value, health or score"), "{r:?}");
    }
}
