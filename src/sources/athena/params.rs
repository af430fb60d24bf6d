//! A key result's Athena SQL: checked without the network (one read-only query, known
//! parameters only) and turned into a statement with `?` placeholders and its execution
//! parameters, typed literals in placeholder order — never spliced into the text.

use crate::sources::SQL_PARAMETERS as PARAMETERS;
use chrono::NaiveDate;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, TokenizerError, Whitespace};

/// A statement for Athena: its text with `?` placeholders, and the names of the parameters
/// in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub sql: String,
    pub parameters: Vec<&'static str>,
}

/// Checks `sql` and replaces each `$name` (outside strings, quoted identifiers and comments)
/// with `?`.
pub fn prepare(sql: &str) -> Result<Prepared, String> {
    let tokens = pieces(sql).map_err(|e| format!("sql does not tokenize: {e}"))?;
    let code: Vec<&Token> = tokens
        .iter()
        .map(|(t, _)| t)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    match code.first() {
        Some(Token::Word(w)) if matches!(w.keyword, Keyword::SELECT | Keyword::WITH) => {}
        _ => {
            return Err(
                "sql must be one read-only SELECT (or WITH … SELECT) query, in Athena's dialect"
                    .into(),
            );
        }
    }
    if let Some(pos) = code.iter().position(|t| **t == Token::SemiColon)
        && pos + 1 < code.len()
    {
        return Err("sql must be one query: found more than one statement".into());
    }
    let mut out = String::with_capacity(sql.len());
    let mut parameters = Vec::new();
    for (token, text) in &tokens {
        match token {
            Token::Placeholder(p) if p.starts_with('$') => {
                let name = &p[1..];
                let Some(known) = PARAMETERS.iter().find(|k| **k == name) else {
                    return Err(format!(
                        "unknown parameter `{p}` in sql; available: {}",
                        PARAMETERS.map(|n| format!("${n}")).join(", ")
                    ));
                };
                parameters.push(*known);
                out.push('?');
            }
            Token::Placeholder(p) if p == "?" => {
                return Err(
                    "write parameters as $as_of, $as_of_end, $period_start or $period_end, not `?`"
                        .into(),
                );
            }
            // a trailing `;` is not sent: Athena takes one statement without it
            Token::SemiColon => {}
            Token::Whitespace(Whitespace::SingleLineComment { .. }) => out.push('\n'),
            // as written: a literal keeps its quoting and escapes byte for byte
            _ => out.push_str(text),
        }
    }
    Ok(Prepared {
        sql: out.trim().to_string(),
        parameters,
    })
}

/// `sql`'s tokens, each with the text it was read from (byte for byte, so `'it''s'` stays
/// `'it''s'` where a token's `Display` would give `'it's'`).
pub(crate) fn pieces(sql: &str) -> Result<Vec<(Token, &str)>, TokenizerError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location()?;
    // the tokenizer counts lines from 1 at each `\n` and columns in characters from 1
    let mut line_starts = vec![0];
    line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |line: u64, column: u64| -> usize {
        let Some(&start) = usize::try_from(line)
            .ok()
            .and_then(|l| line_starts.get(l.wrapping_sub(1)))
        else {
            return sql.len();
        };
        sql[start..]
            .char_indices()
            .nth(usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX))
            .map_or(sql.len(), |(i, _)| start + i)
    };
    let starts: Vec<usize> = tokens
        .iter()
        .map(|t| offset(t.span.start.line, t.span.start.column))
        .collect();
    Ok(tokens
        .into_iter()
        .enumerate()
        .filter(|(_, t)| t.token != Token::EOF)
        .map(|(i, t)| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(sql.len())
                .max(starts[i]);
            (t.token, &sql[starts[i]..end])
        })
        .collect())
}

/// The typed literal each parameter is for a key result: `$as_of` the DATE its value is as
/// of, `$as_of_end` midnight after it, `$period_start` midnight of the period's first day,
/// `$period_end` midnight after its last — as for Tallyfy key results.
pub fn literals(
    parameters: &[&str],
    as_of: NaiveDate,
    period_start: NaiveDate,
    period_end: NaiveDate,
) -> Vec<String> {
    let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
    let midnight = |d: NaiveDate| format!("TIMESTAMP '{d} 00:00:00.000'");
    parameters
        .iter()
        .map(|p| match *p {
            "as_of" => format!("DATE '{as_of}'"),
            "as_of_end" => midnight(next(as_of)),
            "period_start" => midnight(period_start),
            "period_end" => midnight(next(period_end)),
            other => unreachable!("prepare accepts known parameters only, not {other}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn parameters_become_placeholders_in_order_outside_strings() {
        let p = prepare(
            "SELECT count(*) FROM processes -- $as_of in a comment\n\
             WHERE name = '$period_start' AND \"$as_of\" = 1\n\
             AND completed_at >= $period_start AND completed_at < $as_of_end;",
        )
        .unwrap();
        assert_eq!(p.parameters, vec!["period_start", "as_of_end"]);
        assert_eq!(
            p.sql,
            "SELECT count(*) FROM processes \nWHERE name = '$period_start' AND \"$as_of\" = 1\n\
             AND completed_at >= ? AND completed_at < ?"
        );
        assert_eq!(
            literals(&p.parameters, d(3, 15), d(2, 1), d(4, 30)),
            vec![
                "TIMESTAMP '2026-02-01 00:00:00.000'",
                "TIMESTAMP '2026-03-16 00:00:00.000'"
            ]
        );
        assert_eq!(
            literals(&["as_of", "period_end"], d(3, 15), d(2, 1), d(4, 30)),
            vec!["DATE '2026-03-15'", "TIMESTAMP '2026-05-01 00:00:00.000'"]
        );
    }

    #[test]
    fn literals_and_comments_keep_their_bytes() {
        let sql = "SELECT count(*) /* é? */ FROM t WHERE n = 'it''s'\n\
                   AND \"we\"\"ird\" = 'ü' AND d < $as_of";
        let p = prepare(sql).unwrap();
        assert_eq!(p.sql, sql.replace("$as_of", "?"));
        assert_eq!(p.parameters, vec!["as_of"]);
    }

    #[test]
    fn only_one_read_only_query_with_known_parameters() {
        for (sql, error) in [
            ("DROP TABLE processes", "one read-only SELECT"),
            ("SELECT 1; SELECT 2", "more than one statement"),
            ("SELECT $today", "unknown parameter `$today`"),
            ("SELECT ? ", "not `?`"),
        ] {
            let e = prepare(sql).unwrap_err();
            assert!(e.contains(error), "{sql}: {e}");
        }
        assert!(prepare("WITH x AS (SELECT 1 AS n) SELECT n FROM x").is_ok());
    }
}
