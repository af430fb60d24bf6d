//! A Tallyfy connection whose key results are computed in Athena (`engine = { athena =
//! "lake" }`): each key result's SQL is sent with the snapshot rule inlined — the views it
//! reads, as `athena ddl` makes them (`super::athena::VIEWS`), as CTEs over an external table
//! of the exports — and the evaluation day's end as an execution parameter, so a nightly run,
//! a backfill and an offset each get that day's exact state. The queries run as an Athena key
//! result's do (`crate::sources::athena`): in the Athena connection's workgroup and database
//! with its credentials and `max_concurrency`, archived in `raw/`, their scan logged and
//! summed into `runs.athena_bytes_scanned`.
//!
//! The external tables are okrflow's own, named after the folder they read
//! (`okrflow_tallyfy_<hash>`): made with `CREATE EXTERNAL TABLE IF NOT EXISTS` once per
//! process before the first query, they never clash with another connection's or with the
//! `tallyfy_exports` that `athena register` makes for readers, and a changed `url` gets a new
//! table rather than reading the old folder.

use super::athena::{EXPORTS, MEMBER_EXPORTS, VIEWS, external_table, folder, view_sql};
use super::columns::{MEMBER_COLUMNS, PROCESS_COLUMNS};
use super::config::Exports;
use super::{Tallyfy, trino};
use crate::model::Location;
use crate::sources::athena::params::{self, Prepared};
use crate::sources::registry::link_of;
use crate::sources::{KeyResult, KrValue, SourceError};
use datafusion::sql::sqlparser::tokenizer::Token;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The view whose rows are filtered to the evaluation day: every other follows from it.
const AS_OF_VIEW: &str = "tallyfy_file_snapshots";

/// The external tables of a connection's exports: `(name the views use, okrflow's name,
/// statement)`.
fn tables(location: &Location) -> Vec<(&'static str, String, String)> {
    let Some(base) = folder(location) else {
        return Vec::new();
    };
    [
        (
            EXPORTS,
            &PROCESS_COLUMNS[..],
            base.clone(),
            "okrflow_tallyfy",
        ),
        (
            MEMBER_EXPORTS,
            &MEMBER_COLUMNS[..],
            format!("{base}members/"),
            "okrflow_tallyfy_members",
        ),
    ]
    .into_iter()
    .map(|(used, columns, location, prefix)| {
        let mut h = Sha256::new();
        h.update(location.as_bytes());
        for c in columns {
            h.update(b"\n");
            h.update(c.as_bytes());
        }
        let hex: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("{prefix}_{hex}");
        let sql = external_table(&name, columns, &location, true);
        (used, name, sql)
    })
    .collect()
}

/// The words (identifiers and keywords, lower case) of `sql` outside strings and comments.
fn words(sql: &str) -> BTreeSet<String> {
    params::pieces(sql)
        .map(|tokens| {
            tokens
                .into_iter()
                .filter_map(|(t, _)| match t {
                    Token::Word(w) => Some(w.value.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `sql` with each table the views name replaced by okrflow's, and `;` left out.
fn renamed(sql: &str, tables: &[(&str, String, String)]) -> Result<String, String> {
    let tokens = params::pieces(sql).map_err(|e| format!("sql does not tokenize: {e}"))?;
    Ok(tokens
        .into_iter()
        .filter(|(t, _)| *t != Token::SemiColon)
        .map(|(t, text)| match &t {
            Token::Word(w) => tables
                .iter()
                .find(|(used, _, _)| w.value.eq_ignore_ascii_case(used))
                .map_or(text.to_string(), |(_, ours, _)| ours.clone()),
            _ => text.to_string(),
        })
        .collect())
}

/// What key result SQL `sql` is sent as: the views it reads (and those they read) as CTEs,
/// the first filtered to snapshots before `$as_of_end`, then the key result's own query;
/// and the external tables it needs. An error when Trino lacks a function it calls.
pub fn statement(sql: &str, location: &Location) -> Result<(Prepared, Vec<String>), String> {
    trino::check(sql)?;
    let tables = tables(location);
    // the views needed: those the query names, then those they name, newest first
    let mut needed = words(sql);
    let mut ctes = Vec::new();
    for (view, _) in VIEWS.iter().rev() {
        if !needed.contains(*view) {
            continue;
        }
        let body = view_sql(view).expect("a view of the list");
        needed.extend(words(body));
        let body = renamed(body, &tables)?;
        let body = if *view == AS_OF_VIEW {
            format!("SELECT * FROM (\n{body}\n) AS as_of_rule\nWHERE snapshot_at < $as_of_end")
        } else {
            body
        };
        ctes.push(format!("{view} AS (\n{}\n)", body.trim()));
    }
    ctes.reverse();
    let own = renamed(sql, &[])?;
    let text = if ctes.is_empty() {
        own
    } else {
        format!(
            "WITH\n{}\nSELECT * FROM (\n{}\n) AS key_result",
            ctes.join(",\n"),
            own.trim()
        )
    };
    let prepared = params::prepare(&text)?;
    let setup = tables
        .into_iter()
        .filter(|(used, _, _)| needed.contains(*used))
        .map(|(_, _, sql)| sql)
        .collect();
    Ok((prepared, setup))
}

/// The statements of `krs` with the tables they need (each once), and the key results that
/// cannot be sent, failed with why.
pub(super) fn statements<'a>(
    exports: &Exports,
    krs: &[&'a KeyResult],
) -> (Vec<(&'a KeyResult, Prepared)>, Vec<String>, Vec<KrValue>) {
    let (mut items, mut setup, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for k in krs {
        let Some(sql) = link_of::<Tallyfy>(k) else {
            continue;
        };
        match statement(sql, &exports.location) {
            Ok((prepared, tables)) => {
                for t in tables {
                    if !setup.contains(&t) {
                        setup.push(t);
                    }
                }
                items.push((*k, prepared));
            }
            Err(message) => {
                let e = SourceError::Plan {
                    kr_id: k.id.clone(),
                    line: k.source_line.unwrap_or(0),
                    message: format!("for the Athena engine: {message}"),
                };
                tracing::warn!(kr = %k.id, error = %e, "key result failed");
                failed.push(KrValue {
                    kr_id: k.id.clone(),
                    value: Err(e),
                });
            }
        }
    }
    (items, setup, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> Location {
        Location::parse(
            "s3://acme-tallyfy/org-42/analytics",
            std::path::Path::new("."),
            &Default::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_rule_is_inlined_with_the_day_as_a_parameter() {
        let (p, setup) = statement(
            "SELECT count(*) FROM tallyfy_processes -- done ones\n\
             WHERE done_at >= $period_start AND done_at < $as_of_end;",
            &s3(),
        )
        .unwrap();
        // the day's end filters the snapshots first, then the key result's own parameters
        assert_eq!(p.parameters, vec!["as_of_end", "period_start", "as_of_end"]);
        assert!(
            p.sql.starts_with("WITH\ntallyfy_file_snapshots AS ("),
            "{}",
            p.sql
        );
        for view in [
            "tallyfy_snapshots AS (",
            "tallyfy_latest AS (",
            "tallyfy_processes AS (",
        ] {
            assert!(p.sql.contains(view), "{view}: {}", p.sql);
        }
        // only the views it reads, over okrflow's own table of this folder
        assert!(!p.sql.contains("tallyfy_members") && !p.sql.contains("tallyfy_tasks AS"));
        assert!(!p.sql.contains("tallyfy_exports"), "{}", p.sql);
        assert_eq!(setup.len(), 1);
        assert!(
            setup[0].starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `okrflow_tallyfy_")
                && setup[0].ends_with("LOCATION 's3://acme-tallyfy/org-42/analytics/'"),
            "{}",
            setup[0]
        );
        let table = setup[0].split('`').nth(1).unwrap();
        assert!(p.sql.contains(&format!("FROM {table} t")), "{}", p.sql);
        assert!(
            p.sql
                .ends_with("WHERE done_at >= ? AND done_at < ?\n) AS key_result")
        );

        // the members read their own table; another folder gets other names
        let (p, setup) = statement("SELECT count(*) FROM tallyfy_members", &s3()).unwrap();
        assert_eq!(p.parameters, Vec::<&str>::new());
        assert!(p.sql.contains("tallyfy_members_files AS ("));
        assert!(!p.sql.contains("tallyfy_file_snapshots AS ("));
        assert!(setup[0].contains("okrflow_tallyfy_members_"));
        assert!(setup[0].ends_with("/analytics/members/'"));
        let other = Location::parse(
            "s3://acme-tallyfy/emea",
            std::path::Path::new("."),
            &Default::default(),
        )
        .unwrap();
        assert_ne!(
            statement("SELECT count(*) FROM tallyfy_members", &other)
                .unwrap()
                .1,
            setup
        );
    }

    #[test]
    fn a_function_trino_lacks_is_refused_before_anything_is_sent() {
        let e =
            statement("SELECT median(duration_days) FROM tallyfy_processes", &s3()).unwrap_err();
        assert!(e.contains("`median`"), "{e}");
    }
}
