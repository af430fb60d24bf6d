//! What `preview` shows of a key result computed in Athena: the statement as sent, its
//! parameters, the query's scan and time, and the value; nothing is archived.

use super::{AthenaSettings, Item, Origin, answer, queries, ready, value_of};
use crate::sources::{ApiOptions, Preview, SourceError};

/// The value `item`'s statement gives in connection `name` (after `setup`), with the
/// statement shown as `shown` when given (a Tallyfy key result's own SQL, not the snapshot
/// rule around it), else as sent.
pub(crate) async fn preview(
    name: &str,
    settings: &AthenaSettings,
    item: Item<'_>,
    setup: &[String],
    shown: Option<&str>,
    api: &ApiOptions,
) -> Preview {
    let (kr, prepared) = item;
    let q = queries(&[item], api.as_of())
        .pop()
        .expect("one query per key result");
    let source = format!("{name}: Athena");
    let client = match ready(name, settings, setup, api).await {
        Ok(c) => c,
        Err((message, cause)) => {
            return Preview {
                kr_id: kr.id.clone(),
                source,
                value: Err(SourceError::Api {
                    connection: name.to_string(),
                    message,
                }
                .with_cause(cause)),
                rows: None,
            };
        }
    };
    // Nothing is archived by a preview.
    let api = ApiOptions {
        archive: None,
        ..api.clone()
    };
    let asking = super::Asking {
        name,
        settings,
        client: client.as_ref(),
        api: &api,
    };
    let got = answer(&asking, &q.sql, &q.parameters).await;
    let mut rows = format!(
        "workgroup {}, database {}\n{}\n",
        settings.query.workgroup,
        settings.query.database,
        shown.unwrap_or(&q.sql)
    );
    for (i, (p, v)) in prepared.parameters.iter().zip(&q.parameters).enumerate() {
        rows.push_str(&format!("parameter {} (${p}): {v}\n", i + 1));
    }
    if let Ok((a, origin)) = &got {
        rows.push_str(&format!(
            "query {}: {} bytes scanned, {} ms{}{}",
            a.query_id,
            a.bytes_scanned,
            a.engine_ms,
            if a.reused { ", reused result" } else { "" },
            if *origin == Origin::Archive {
                " (from the archive)"
            } else {
                ""
            }
        ));
    }
    let value = got.and_then(|(a, _)| value_of(&a)).map_err(|message| {
        let cause = super::cause_of(&message);
        SourceError::Query {
            kr_id: kr.id.clone(),
            message: format!("connection `{name}`: {message}"),
        }
        .with_cause(cause)
    });
    Preview {
        kr_id: kr.id.clone(),
        source,
        value,
        rows: Some(rows),
    }
}
