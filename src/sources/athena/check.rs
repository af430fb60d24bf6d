//! `validate --online` for statements run in Athena: each distinct query planned with
//! `EXPLAIN`, its parameters spliced in as literals, no data scanned.

use super::{AthenaSettings, Item, items, params, queries, ready};
use crate::sources::{ApiOptions, KeyResult};

/// Replaces each `?` of a prepared statement with its literal, for `EXPLAIN` only: the
/// literals are okrflow's own dates, not user text.
fn spliced(sql: &str, parameters: &[String]) -> String {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let Ok(tokens) = params::pieces(sql) else {
        return sql.to_string();
    };
    let mut next = parameters.iter();
    tokens
        .iter()
        .map(|(t, text)| match t {
            Token::Placeholder(p) if p == "?" => next.next().cloned().unwrap_or_else(|| "?".into()),
            _ => (*text).to_string(),
        })
        .collect()
}

/// `validate --online`: every distinct query planned with `EXPLAIN` (no data scanned), as
/// of `as_of`; `(subject, problem)` for each that fails.
pub async fn check_online(
    name: &str,
    settings: &AthenaSettings,
    krs: &[&KeyResult],
    api: &ApiOptions,
) -> Vec<(String, String)> {
    check_items(name, settings, &items(krs), &[], api).await
}

/// [`check_online`] for statements given with their key results, after `setup`.
pub(crate) async fn check_items(
    name: &str,
    settings: &AthenaSettings,
    items: &[Item<'_>],
    setup: &[String],
    api: &ApiOptions,
) -> Vec<(String, String)> {
    let client = match ready(name, settings, setup, api).await {
        Ok(Some(c)) => c,
        Ok(None) => return Vec::new(), // a replay archive has nothing to plan against
        Err((e, _)) => return vec![(format!("connection {name}"), e)],
    };
    let mut problems = Vec::new();
    for q in queries(items, api.as_of()) {
        let explain = format!("EXPLAIN {}", spliced(&q.sql, &q.parameters));
        if let Err(e) = client.run(&explain, &[]).await {
            for k in &q.krs {
                problems.push((
                    format!("key result {}", k.id),
                    format!("connection `{name}`: {e}"),
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_gets_the_literals_in_order() {
        assert_eq!(
            spliced(
                "SELECT 1 WHERE a = '?' AND b >= ? AND c < ?",
                &[
                    "DATE '2026-03-15'".into(),
                    "TIMESTAMP '2026-03-16 00:00:00.000'".into()
                ]
            ),
            "SELECT 1 WHERE a = '?' AND b >= DATE '2026-03-15' AND c < TIMESTAMP '2026-03-16 00:00:00.000'"
        );
        assert_eq!(
            spliced(
                "SELECT 'it''s', \"a\"\"b\" WHERE c < ?",
                &["DATE '2026-03-15'".into()]
            ),
            "SELECT 'it''s', \"a\"\"b\" WHERE c < DATE '2026-03-15'"
        );
    }
}
