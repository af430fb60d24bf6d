//! Every problem of a job file that does not deserialize, not only the first. serde stops at
//! the first unknown field or wrong type, so a file that fails is parsed to spanned TOML
//! values first and each table (`[job]`, `[output]`, every connection, objective and key
//! result) is deserialized on its own; a key at fault is dropped and the table tried again,
//! so two misspelt fields of one key result are two problems.

use super::job::{
    ConnectionTable, JobSection, KeyResultConfig, ObjectiveConfig, OutputSection, PeriodConfig,
};
use super::kinds::Kinds;
use serde::de::DeserializeOwned;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// One problem: where it is, which table it is in, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub span: Option<Range<usize>>,
    /// `[job]`, `connection looker_prod`, `objective O1`, `key result O1-KR2`.
    pub subject: Option<String>,
    pub message: String,
}

/// The top-level tables of a job file.
const TOP: [&str; 6] = [
    "job",
    "output",
    "periods",
    "connections",
    "objectives",
    "notify",
];

/// Every syntax error of `text`, or when it parses, every unknown field and wrong type of
/// each of its tables. Empty when each table deserializes on its own.
pub fn diagnose<K: Kinds>(text: &str) -> Vec<Found> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return syntax
            .iter()
            .map(|e| Found {
                span: e.span(),
                subject: None,
                message: e.message().trim().to_string(),
            })
            .collect();
    }
    let root_span = root.span();
    let root = root.into_inner();
    let mut out = Vec::new();
    for (key, _) in root.iter() {
        if !TOP.contains(&key.get_ref().as_ref()) {
            out.push(Found {
                span: Some(key.span()),
                subject: None,
                message: format!(
                    "unknown table `{}`, expected one of `job`, `output`, `periods`, `connections`, `objectives`, `notify`",
                    key.get_ref()
                ),
            });
        }
    }
    for (name, subject) in [("job", "[job]"), ("output", "[output]")] {
        match get(&root, name) {
            Some(v) if name == "job" => check::<JobSection>(v, subject.into(), &mut out),
            Some(v) => check::<OutputSection>(v, subject.into(), &mut out),
            None => out.push(Found {
                span: Some(root_span.start..root_span.start),
                subject: None,
                message: format!("missing table {subject}"),
            }),
        }
    }
    if let Some(v) = get(&root, "periods") {
        match v.get_ref() {
            DeValue::Table(t) => {
                for (name, p) in t.iter() {
                    check::<PeriodConfig>(p, format!("period {}", name.get_ref()), &mut out);
                }
            }
            other => out.push(wrong_type(v, "periods", "a table", other)),
        }
    }
    if let Some(v) = get(&root, "connections") {
        match v.get_ref() {
            DeValue::Table(t) => {
                for (name, c) in t.iter() {
                    check::<ConnectionTable<K::ConnectionConfig>>(
                        c,
                        format!("connection {}", name.get_ref()),
                        &mut out,
                    );
                }
            }
            other => out.push(wrong_type(v, "connections", "a table", other)),
        }
    }
    if let Some(v) = get(&root, "notify") {
        check::<super::job::NotifySection>(v, "[notify]".into(), &mut out);
    }
    if let Some(v) = get(&root, "objectives") {
        match v.get_ref() {
            DeValue::Array(objectives) => {
                for (i, o) in objectives.iter().enumerate() {
                    objective::<K>(o, i, &mut out);
                }
            }
            other => out.push(wrong_type(v, "objectives", "an array of tables", other)),
        }
    }
    out.sort_by_key(|f| f.span.as_ref().map_or(0, |s| s.start));
    out
}

/// An objective without its key results, then each key result.
fn objective<K: Kinds>(o: &Spanned<DeValue<'_>>, index: usize, out: &mut Vec<Found>) {
    let DeValue::Table(t) = o.get_ref() else {
        out.push(wrong_type(
            o,
            "objectives",
            "an array of tables",
            o.get_ref(),
        ));
        return;
    };
    let subject = format!(
        "objective {}",
        id_of(t).unwrap_or_else(|| format!("#{}", index + 1))
    );
    let own: DeTable<'_> = t
        .iter()
        .filter(|(k, _)| k.get_ref().as_ref() != "key_results")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check::<ObjectiveConfig<K::SourceConfig>>(
        &Spanned::new(o.span(), DeValue::Table(own)),
        subject.clone(),
        out,
    );
    let Some(krs) = get(t, "key_results") else {
        return;
    };
    let DeValue::Array(krs) = krs.get_ref() else {
        out.push(Found {
            span: Some(krs.span()),
            subject: Some(subject),
            message: format!(
                "key_results is {}, not an array of tables",
                krs.get_ref().type_str()
            ),
        });
        return;
    };
    for (j, kr) in krs.iter().enumerate() {
        let id = match kr.get_ref() {
            DeValue::Table(t) => id_of(t),
            _ => None,
        };
        let subject = format!(
            "key result {}",
            id.unwrap_or_else(|| format!("#{} of {subject}", j + 1))
        );
        check::<KeyResultConfig<K::SourceConfig>>(kr, subject, out);
    }
}

/// Deserializes one table as `T`, reporting each problem and dropping the key at fault
/// until the rest deserializes (or the problem is not one key's).
fn check<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, subject: String, out: &mut Vec<Found>) {
    let mut value = value.clone();
    let mut dropped: Vec<String> = Vec::new();
    for _ in 0..64 {
        let Err(e) = T::deserialize(ValueDeserializer::from(value.clone())) else {
            return;
        };
        let message = e.message().trim().to_string();
        // A field dropped for its own problem is not missing as well.
        if dropped
            .iter()
            .any(|k| message.starts_with(&format!("missing field `{k}`")))
        {
            return;
        }
        let span = e.span().unwrap_or_else(|| value.span());
        out.push(Found {
            span: Some(span.clone()),
            subject: Some(subject.clone()),
            message,
        });
        let DeValue::Table(t) = value.get_ref() else {
            return;
        };
        let Some((key, _)) = t.iter().find(|(k, v)| {
            k.span().start <= span.start && span.start < v.span().end.max(k.span().end)
        }) else {
            return;
        };
        let key = key.get_ref().to_string();
        let rest: DeTable<'_> = t
            .iter()
            .filter(|(k, _)| k.get_ref().as_ref() != key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        dropped.push(key);
        value = Spanned::new(value.span(), DeValue::Table(rest));
    }
}

fn get<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn id_of(t: &DeTable<'_>) -> Option<String> {
    get(t, "id")
        .and_then(|v| v.get_ref().as_str())
        .map(|s| s.trim().to_string())
}

fn wrong_type(v: &Spanned<DeValue<'_>>, name: &str, wanted: &str, got: &DeValue<'_>) -> Found {
    Found {
        span: Some(v.span()),
        subject: None,
        message: format!("`{name}` must be {wanted}, not {}", got.type_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Registry;

    fn diagnose(text: &str) -> Vec<Found> {
        super::diagnose::<Registry>(text)
    }

    fn messages(text: &str) -> Vec<String> {
        diagnose(text)
            .into_iter()
            .map(|f| {
                let (line, _) = super::super::line_col(text, f.span.unwrap().start);
                format!("{line}: {}: {}", f.subject.unwrap_or_default(), f.message)
            })
            .collect()
    }

    const HEAD: &str = "[job]\nname = \"t\"\n[output]\nurl = \"out\"\n";

    #[test]
    fn every_unknown_field_and_type_error_is_found_with_its_table() {
        let text = format!(
            "{HEAD}[connections.t]\nkind = \"tallyfy\"\nurl = \"d\"\nbucket = \"x\"\n\
             [[objectives]]\nid = \"O1\"\ntitle = \"x\"\nperiod = \"FY27-Q1\"\nowner = 3\n\
             [[objectives.key_results]]\nid = \"K1\"\ntitel = \"t\"\nmeasure = {{ percent_complete = {{}} }}\nweigth = 2\n\
             [[objectives.key_results]]\nid = \"K2\"\ntitle = \"t\"\nmeasure = {{ percent_complete = {{}} }}\nweight = \"heavy\"\n"
        );
        let m = messages(&text);
        assert_eq!(m.len(), 6, "{m:#?}");
        assert!(
            m[0].starts_with("5: connection t: ") && m[0].contains("bucket"),
            "{m:#?}"
        );
        assert!(
            m[1].starts_with("13: objective O1: invalid type: integer `3`, expected a string"),
            "{m:#?}"
        );
        // `title` is missing too, once the misspelt one is set aside (at the table's line)
        assert_eq!(m[2], "14: key result K1: missing field `title`");
        assert!(
            m[3].starts_with(
                "16: key result K1: unknown field `titel`, expected one of `id`, `title`"
            ),
            "{m:#?}"
        );
        assert!(
            m[4].starts_with("18: key result K1: unknown field `weigth`"),
            "{m:#?}"
        );
        assert!(
            m[5].starts_with("23: key result K2: invalid type: string \"heavy\", expected f64"),
            "{m:#?}"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_tables_are_found() {
        let m = messages(&format!("{HEAD}[jobs]\nname = 1\n"));
        assert_eq!(
            m,
            [
                "5: : unknown table `jobs`, expected one of `job`, `output`, `periods`, `connections`, `objectives`, `notify`"
            ]
        );
        let m = messages("[job]\nname = \"t\nx = 1\n");
        assert!(!m.is_empty() && m[0].starts_with("2: "), "{m:?}");
        assert!(diagnose(&format!("{HEAD}")).is_empty());
    }
}
