//! A Jira site on loopback that speaks the contract in `shared/contracts/` for either
//! deployment: Cloud (`/rest/api/3/search/jql` paged by `nextPageToken`/`isLast`, no total;
//! the old `/search` answers 410; `approximate-count`; `jql/parse`; Basic auth with email and
//! API token) and Data Center (`/rest/api/2/search` paged by `startAt`/`total`; Bearer PAT).
//! Both cap the page size below what is asked, return only the fields asked for, answer
//! `ErrorCollection` bodies, and take injected faults from [`Recorder`].
#![allow(dead_code)]

use super::fake_http::{Recorder, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use okrflow::sources::jira::config::Deployment;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What the site holds.
#[derive(Clone)]
pub struct Site {
    pub deployment: Deployment,
    pub email: String,
    pub token: String,
    /// A header a reverse proxy in front of the site wants.
    pub proxy_header: Option<(String, String)>,
    /// The most issues the server puts on one page, whatever is asked.
    pub page_max: usize,
    /// Issues, `{key, fields}`.
    pub issues: Vec<Value>,
    /// Key → position in `issues`.
    pub index: HashMap<String, usize>,
    /// JQL → the keys it matches, in order.
    pub queries: HashMap<String, Vec<String>>,
    /// `GET …/field`.
    pub fields: Value,
    /// Board id → `…/configuration` body.
    pub boards: HashMap<u64, Value>,
}

impl Site {
    pub fn new(deployment: Deployment) -> Site {
        Site {
            deployment,
            email: "okr-bot@acme.test".into(),
            token: "jira-token-value-5521".into(),
            proxy_header: None,
            page_max: 3,
            issues: Vec::new(),
            index: HashMap::new(),
            queries: HashMap::new(),
            fields: json!([
                {"id": "status", "key": "status", "name": "Status", "custom": false, "schema": {"type": "status", "system": "status"}},
                {"id": "customfield_10016", "key": "customfield_10016", "name": "Story point estimate", "custom": true,
                 "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points", "customId": 10016}},
                {"id": "customfield_10050", "key": "customfield_10050", "name": "Revenue impact", "custom": true,
                 "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float", "customId": 10050}}
            ]),
            boards: HashMap::new(),
        }
    }

    /// Adds an issue and puts it in the results of `jqls`.
    pub fn add(&mut self, issue: Value, jqls: &[&str]) {
        let key = issue["key"].as_str().unwrap().to_string();
        for q in jqls {
            self.queries
                .entry(q.to_string())
                .or_default()
                .push(key.clone());
        }
        self.index.insert(key, self.issues.len());
        self.issues.push(issue);
    }

    /// The issue with this key.
    pub fn issue(&self, key: &str) -> &Value {
        &self.issues[self.index[key]]
    }

    /// Moves an issue to another status category.
    pub fn set_category(&mut self, key: &str, category: &str) {
        let issue = &mut self.issues[self.index[key]];
        issue["fields"]["status"]["statusCategory"]["key"] = json!(category);
    }
}

/// An issue: status category, time tracking in seconds, progress and story points.
pub fn issue(
    key: &str,
    category: &str,
    time: [Option<i64>; 3],
    progress: Option<(i64, i64)>,
    points: Option<f64>,
) -> Value {
    let [spent, original, remaining] = time;
    let mut fields = json!({
        "status": {"name": category, "statusCategory": {"key": category, "id": 3}},
        "timespent": spent, "timeoriginalestimate": original, "timeestimate": remaining,
        "customfield_10016": points, "customfield_10050": null,
    });
    if let Some((p, total)) = progress {
        fields["progress"] = if total > 0 {
            json!({"progress": p, "total": total, "percent": p * 100 / total})
        } else {
            json!({"progress": p, "total": total})
        };
    }
    json!({"id": key.replace('-', ""), "key": key, "self": format!("https://acme.test/rest/api/3/issue/{key}"), "fields": fields})
}

pub struct Server {
    pub site: Mutex<Site>,
    pub rec: Recorder,
}

/// A running fake Jira.
pub struct FakeJira {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
}

impl FakeJira {
    pub async fn start(site: Site) -> FakeJira {
        let server = Arc::new(Server {
            site: Mutex::new(site),
            rec: Recorder::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(server.clone());
        FakeJira {
            addr: serve(app).await,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn site(&self) -> std::sync::MutexGuard<'_, Site> {
        self.server.site.lock().unwrap()
    }
}

fn error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        json!({"errorMessages": [message], "errors": {}}).to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(s): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = s.rec.enter();
    if let Some(fault) = s.rec.before(&method, &uri, &headers, &body, error).await {
        return fault;
    }
    // Held, not cloned: the handler does not wait from here on, and a large site is slow to copy.
    let guard = s.site.lock().unwrap();
    let site = &*guard;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    if let Some((name, value)) = &site.proxy_header
        && header(name).as_deref() != Some(value.as_str())
    {
        return (StatusCode::FORBIDDEN, "proxy: missing or wrong header").into_response();
    }
    let expected = match site.deployment {
        Deployment::Cloud => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", site.email, site.token))
        ),
        Deployment::DataCenter => format!("Bearer {}", site.token),
    };
    if header("authorization").as_deref() != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
            .into_response();
    }
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let api = match site.deployment {
        Deployment::Cloud => "/rest/api/3",
        Deployment::DataCenter => "/rest/api/2",
    };
    let path = uri.path();
    let cloud = site.deployment == Deployment::Cloud;
    match (method.clone(), path) {
        (Method::GET, p) if cloud && (p == "/rest/api/3/search" || p == "/rest/api/2/search") => {
            error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        }
        (Method::GET, p) if cloud && p == "/rest/api/3/search/jql" => {
            let jql = q.get("jql").cloned().unwrap_or_default();
            let keys = match matching(site, &jql) {
                Ok(k) => k,
                Err(r) => return r,
            };
            let asked: usize = q
                .get("maxResults")
                .and_then(|m| m.parse().ok())
                .unwrap_or(50);
            let size = asked.min(site.page_max).max(1);
            let start: usize = q
                .get("nextPageToken")
                .map(|t| t.trim_start_matches("page-").parse().unwrap())
                .unwrap_or(0);
            let end = (start + size).min(keys.len());
            let fields = q.get("fields").cloned().unwrap_or_else(|| "id".into());
            let issues: Vec<Value> = keys[start..end]
                .iter()
                .map(|k| project(site, k, &fields))
                .collect();
            let mut body = json!({"issues": issues, "isLast": end >= keys.len()});
            if end < keys.len() {
                body["nextPageToken"] = json!(format!("page-{end}"));
            }
            ok(body)
        }
        (Method::POST, "/rest/api/3/search/approximate-count") if cloud => {
            let jql = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["jql"].as_str().map(String::from));
            match jql.map(|j| matching(site, &j)) {
                Some(Ok(keys)) => ok(json!({"count": keys.len()})),
                Some(Err(r)) => r,
                None => error(400, "jql is required"),
            }
        }
        (Method::POST, "/rest/api/3/jql/parse") if cloud => {
            let queries: Vec<String> = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| serde_json::from_value(b["queries"].clone()).ok())
                .unwrap_or_default();
            let parsed: Vec<Value> = queries
                .iter()
                .map(|jql| match matching(site, jql) {
                    Ok(_) => json!({"query": jql, "structure": {}}),
                    Err(_) => json!({"query": jql, "errors": [unknown_jql(jql)]}),
                })
                .collect();
            ok(json!({"queries": parsed}))
        }
        (Method::GET, "/rest/api/2/search") if !cloud => {
            let jql = q.get("jql").cloned().unwrap_or_default();
            let keys = match matching(site, &jql) {
                Ok(k) => k,
                Err(r) => return r,
            };
            let asked: usize = q
                .get("maxResults")
                .and_then(|m| m.parse().ok())
                .unwrap_or(50);
            let size = asked.min(site.page_max);
            let start: usize = q.get("startAt").and_then(|m| m.parse().ok()).unwrap_or(0);
            let end = (start + size).min(keys.len()).max(start.min(keys.len()));
            let fields = q
                .get("fields")
                .cloned()
                .unwrap_or_else(|| "*navigable".into());
            let issues: Vec<Value> = keys[start.min(keys.len())..end]
                .iter()
                .map(|k| project(site, k, &fields))
                .collect();
            ok(
                json!({"expand": "schema,names", "startAt": start, "maxResults": size, "total": keys.len(), "issues": issues}),
            )
        }
        (Method::GET, p) if p == format!("{api}/field") => ok(site.fields.clone()),
        (Method::GET, p) if p == format!("{api}/myself") => {
            ok(json!({"accountId": "5b10", "displayName": "OKR bot"}))
        }
        (Method::GET, p)
            if p.starts_with("/rest/agile/1.0/board/") && p.ends_with("/configuration") =>
        {
            let id: u64 = p
                .trim_start_matches("/rest/agile/1.0/board/")
                .trim_end_matches("/configuration")
                .parse()
                .unwrap_or(0);
            match site.boards.get(&id) {
                Some(b) => ok(b.clone()),
                None => error(
                    404,
                    &format!("Board does not exist or you do not have permission to see it."),
                ),
            }
        }
        _ => error(404, "null for uri"),
    }
}

fn unknown_jql(jql: &str) -> String {
    format!(
        "Error in the JQL Query: The character '!' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0021' instead. (line 1, character {})",
        jql.find('!').map_or(1, |i| i + 1)
    )
}

/// The keys a JQL matches: a known query, or `(known) AND statusCategory = Done`.
fn matching(site: &Site, jql: &str) -> Result<Vec<String>, Response> {
    let (base, done_only) = match jql.strip_suffix(" AND statusCategory = Done") {
        Some(b) if b.starts_with('(') && b.ends_with(')') => (&b[1..b.len() - 1], true),
        _ => (jql, false),
    };
    let Some(keys) = site.queries.get(base) else {
        return Err(error(400, &unknown_jql(jql)));
    };
    Ok(keys
        .iter()
        .filter(|k| {
            !done_only || site.issue(k)["fields"]["status"]["statusCategory"]["key"] == "done"
        })
        .cloned()
        .collect())
}

/// An issue with only the fields asked for.
fn project(site: &Site, key: &str, fields: &str) -> Value {
    let issue = site.issue(key);
    let wanted: Vec<&str> = fields.split(',').collect();
    let mut out = serde_json::Map::new();
    if let Some(all) = issue["fields"].as_object() {
        for (name, value) in all {
            if wanted.contains(&name.as_str())
                || wanted.contains(&"*all")
                || wanted.contains(&"*navigable")
            {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    json!({"id": issue["id"], "key": key, "self": issue["self"], "fields": out})
}

/// The Jira Cloud site the demo job's archive comes from: the AE-786 epic (11 stories, 3
/// done, with story points) and the PAY bugs (18 filed, 14 done).
pub fn demo_site() -> Site {
    let mut s = Site::new(Deployment::Cloud);
    s.email = "demo@acme.test".into();
    s.token = "demo-token".into();
    s.page_max = 5;
    // Issues are created through February and March; the done ones are all done by
    // 30 April, the quarter's last day, so the quarter's values are those of today.
    let points = [3.0, 5.0, 2.0, 8.0, 3.0, 5.0, 2.0, 1.0, 2.0, 1.0, 3.0];
    let done_on = ["2026-03-02", "2026-03-16", "2026-04-06"];
    for (n, p) in points.iter().enumerate() {
        let category = match n {
            0..=2 => "done",
            3 | 4 => "indeterminate",
            _ => "new",
        };
        let created = day(2026, 2, 2) + chrono::Days::new(3 * n as u64 + 3);
        s.add(
            dated(
                issue(
                    &format!("AE-{}", n + 1),
                    category,
                    [None; 3],
                    None,
                    Some(*p),
                ),
                created,
                done_on.get(n).map(|d| d.parse().unwrap()),
            ),
            &["parent = AE-786"],
        );
    }
    for n in 1..=18u64 {
        let created = day(2026, 2, 1) + chrono::Days::new(4 * n);
        let done = (n <= 14).then(|| created + chrono::Days::new(9));
        s.add(
            dated(
                issue(
                    &format!("PAY-{n}"),
                    if done.is_some() { "done" } else { "new" },
                    [None; 3],
                    None,
                    None,
                ),
                created,
                done,
            ),
            &["project = PAY AND type = Bug"],
        );
    }
    s
}

fn day(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Sets an issue's `created` and, when it is done, `statuscategorychangedate` and
/// `resolutiondate` (Jira's timestamp format).
pub fn dated(
    mut issue: Value,
    created: chrono::NaiveDate,
    done: Option<chrono::NaiveDate>,
) -> Value {
    let stamp = |d: chrono::NaiveDate| format!("{d}T10:15:00.000+0000");
    issue["fields"]["created"] = json!(stamp(created));
    if let Some(d) = done {
        issue["fields"]["statuscategorychangedate"] = json!(stamp(d));
        issue["fields"]["resolutiondate"] = json!(stamp(d));
    }
    issue
}
