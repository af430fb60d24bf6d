//! The digest as Slack and Teams take it: Slack's Block Kit message (a header, sections of
//! mrkdwn, a context line; at most 50 blocks, a section's text at most 3000 characters) and a
//! Teams Workflows webhook's message, one Adaptive Card 1.4 (TextBlocks and a FactSet), kept
//! under 25 KB. Long lists are cut with a count of what was left out.

use super::digest::{Digest, describe, percent};
use serde_json::{Value, json};

/// A section's text at most: Slack refuses 3001 characters.
const SECTION_CHARS: usize = 3000;
/// Key results listed per list; the rest are counted.
const LISTED: usize = 15;

/// Up to [`LISTED`] lines, then how many more there are, within `max` characters.
fn listed(lines: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let more = format!("… and {} more", lines.len() - i);
        let next = format!("• {l}\n");
        if i == LISTED || out.chars().count() + next.chars().count() + more.len() > max {
            out.push_str(&more);
            return out;
        }
        out.push_str(&next);
    }
    out.trim_end().to_string()
}

/// The digest's parts as `(heading, lines)`, the empty ones left out.
fn parts(d: &Digest) -> Vec<(&'static str, Vec<String>)> {
    let objectives = d
        .objectives
        .iter()
        .map(|(id, title, status, progress, expected)| {
            format!(
                "{id} {title}: {status}, {} of {} expected",
                percent(*progress),
                percent(*expected)
            )
        })
        .collect();
    let at_risk = d.attention.iter().map(describe).collect();
    let failing = d.failing.iter().map(describe).collect();
    [
        ("Objectives", objectives),
        ("At risk or behind", at_risk),
        ("Failing or stale", failing),
        ("Health update overdue", d.overdue.clone()),
    ]
    .into_iter()
    .filter(|(_, l)| !l.is_empty())
    .collect()
}

/// The title line: `demo · FY27-Q1 as of 2026-03-31`, and whether the period is closed.
fn title(d: &Digest) -> String {
    let t = format!("{} · {} as of {}", d.job, d.period, d.as_of);
    // Slack's header takes 150 characters
    t.chars().take(150).collect()
}

/// Slack's Block Kit message.
pub(crate) fn slack(d: &Digest) -> Value {
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": title(d)}})];
    if let Some(closed) = &d.closed {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": closed}]}));
    }
    for (heading, lines) in parts(d) {
        let text = format!(
            "*{heading}*\n{}",
            listed(&lines, SECTION_CHARS - heading.len() - 3)
        );
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    blocks.push(json!({"type": "divider"}));
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "okrflow digest"}]}),
    );
    json!({"text": d.headline(), "blocks": blocks})
}

/// A Teams Workflows webhook's message: one Adaptive Card.
pub(crate) fn teams(d: &Digest) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": title(d), "weight": "Bolder", "size": "Medium", "wrap": true
    })];
    if let Some(closed) = &d.closed {
        body.push(json!({"type": "TextBlock", "text": closed, "isSubtle": true, "wrap": true}));
    }
    body.push(json!({"type": "FactSet", "facts": [
        {"title": "At risk or behind", "value": d.attention.len().to_string()},
        {"title": "Failing or stale", "value": d.failing.len().to_string()},
        {"title": "Health overdue", "value": d.overdue.len().to_string()},
    ]}));
    for (heading, lines) in parts(d) {
        body.push(json!({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true, "separator": true}));
        // a card holds about 28 KB: each list at most 4000 characters
        body.push(json!({"type": "TextBlock", "text": listed(&lines, 4000).replace("• ", "- "), "wrap": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::digest::Line;

    fn digest(n: usize) -> Digest {
        let line = |i: usize| Line {
            id: format!("O1-KR{i}"),
            title: "Book demos ".repeat(20),
            owner: Some("lee".into()),
            reasons: "at risk".into(),
            why: Some("pipeline slipped".into()),
        };
        Digest {
            job: "demo".into(),
            period: "FY27-Q1".into(),
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            closed: None,
            objectives: vec![(
                "O1".into(),
                "Onboard".into(),
                "behind".into(),
                Some(0.4),
                Some(0.66),
            )],
            attention: (1..=n).map(line).collect(),
            failing: Vec::new(),
            overdue: vec!["lee".into()],
        }
    }

    #[test]
    fn slack_and_teams_get_their_shapes_within_their_limits() {
        let s = slack(&digest(2));
        assert_eq!(
            s["blocks"][0]["text"]["text"],
            "demo · FY27-Q1 as of 2026-03-31"
        );
        let text = s["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(
            text.starts_with("*At risk or behind*\n• O1-KR1 Book demos"),
            "{text}"
        );
        assert!(text.contains("(lee): at risk — pipeline slipped"), "{text}");
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .contains("2 key result(s) at risk or behind")
        );
        // sixty long lines: 15 listed and the rest counted, within Slack's limits
        let s = slack(&digest(60));
        let blocks = s["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for b in blocks.iter().filter(|b| b["type"] == "section") {
            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        }
        assert!(
            s.to_string().contains(" more\"") && s.to_string().contains("… and "),
            "{s}"
        );
        let t = teams(&digest(60));
        assert_eq!(
            t["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(t["attachments"][0]["content"]["version"], "1.4");
        assert!(t.to_string().len() < 25_000);
    }
}
