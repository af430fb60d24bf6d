//! A Looker API 4.0 instance on loopback that speaks the contract in
//! `shared/contracts/` (login with a form body and expiring tokens, case-insensitive LIKE
//! search, dashboard elements and filters, looks, queries, `json_detail` runs, inline runs,
//! `{message, documentation_url}` errors), with injectable faults and latency, and a log of
//! every request it served.
#![allow(dead_code)]

pub use super::fake_http::FaultKind;
use super::fake_http::{Recorder, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the instance holds.
#[derive(Clone, Default)]
pub struct Instance {
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of each token handed out.
    pub token_ttl_secs: u64,
    /// `{id, title}` objects.
    pub dashboards: Vec<Value>,
    /// Dashboard id → `DashboardElement[]`.
    pub elements: HashMap<String, Value>,
    /// Dashboard id → `DashboardFilter[]`.
    pub filters: HashMap<String, Value>,
    /// `{id, title, query_id}` objects.
    pub looks: Vec<Value>,
    /// Query id → `Query`.
    pub queries: HashMap<String, Value>,
    /// Query id → its `json_detail` result.
    pub results: HashMap<String, Value>,
    /// `(model, view, filters)` → the `json_detail` of an inline run with exactly those filters.
    pub inline_results: Vec<(String, String, Value, Value)>,
}

pub struct Server {
    pub instance: Mutex<Instance>,
    /// Requests, latency and faults.
    pub rec: Recorder,
    tokens: Mutex<HashMap<String, Instant>>,
    pub logins: AtomicUsize,
    pub logouts: AtomicUsize,
    next_token: AtomicUsize,
}

/// A running fake Looker.
pub struct FakeLooker {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
}

impl FakeLooker {
    /// Starts the instance on an ephemeral loopback port.
    pub async fn start(instance: Instance) -> FakeLooker {
        let server = Arc::new(Server {
            instance: Mutex::new(instance),
            rec: Recorder::default(),
            tokens: Mutex::new(HashMap::new()),
            logins: AtomicUsize::new(0),
            logouts: AtomicUsize::new(0),
            next_token: AtomicUsize::new(1),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(server.clone());
        let addr = serve(app).await;
        FakeLooker { addr, server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fault(&self, path: &str, kind: FaultKind, times: usize) {
        self.server.rec.fault(path, kind, times);
    }

    /// Requests served whose `METHOD path?query` starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.server.rec.count(prefix)
    }

    pub fn log(&self) -> Vec<String> {
        self.server.rec.log()
    }

    /// Makes every token handed out so far invalid (as after a server restart).
    pub fn revoke_tokens(&self) {
        self.server.tokens.lock().unwrap().clear();
    }
}

fn error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        json!({"message": message, "documentation_url": "https://cloud.google.com/looker/docs/"})
            .to_string(),
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

/// SQL LIKE, case-insensitive, as the search endpoints match strings.
fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(s): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = s.rec.enter();
    answer(&s, method, uri, headers, body).await
}

async fn answer(s: &Server, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = s.rec.before(&method, &uri, &headers, &body, error).await {
        return fault;
    }
    let path = uri.path().strip_prefix("/api/4.0").unwrap_or("");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let q = query_map(&uri);
    // Held, not cloned: nothing below waits, and a large instance is slow to copy.
    let guard = s.instance.lock().unwrap();
    let inst = &*guard;

    if method == Method::POST && segments == ["login"] {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        if !q.is_empty() {
            return error(400, "send credentials in the body");
        }
        if form.get("client_id") != Some(&inst.client_id)
            || form.get("client_secret") != Some(&inst.client_secret)
        {
            return error(404, "Not found");
        }
        s.logins.fetch_add(1, Ordering::SeqCst);
        let token = format!("tok{}", s.next_token.fetch_add(1, Ordering::SeqCst));
        s.tokens.lock().unwrap().insert(
            token.clone(),
            Instant::now() + Duration::from_secs(inst.token_ttl_secs),
        );
        return ok(
            json!({"access_token": token, "token_type": "Bearer", "expires_in": inst.token_ttl_secs, "refresh_token": null}),
        );
    }

    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        });
    let valid = auth.is_some_and(|t| {
        s.tokens
            .lock()
            .unwrap()
            .get(t)
            .is_some_and(|exp| Instant::now() < *exp)
    });
    if !valid {
        return error(401, "Requires authentication.");
    }

    let run = |query_id: &str, q: &HashMap<String, String>, fmt: &str| -> Response {
        if fmt != "json_detail" {
            return error(400, "only json_detail is served here");
        }
        if q.get("server_table_calcs").map(String::as_str) != Some("true") {
            return error(400, "server_table_calcs=true expected");
        }
        match inst.results.get(query_id) {
            Some(r) => ok(r.clone()),
            None => error(404, "Not found"),
        }
    };

    match (method.clone(), segments.as_slice()) {
        (Method::DELETE, ["logout"]) => {
            s.logouts.fetch_add(1, Ordering::SeqCst);
            if let Some(t) = auth {
                s.tokens.lock().unwrap().remove(t);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::GET, ["dashboards", "search"]) => {
            let title = q.get("title").cloned().unwrap_or_else(|| "%".into());
            ok(Value::Array(
                inst.dashboards
                    .iter()
                    .filter(|d| like(&title, d["title"].as_str().unwrap_or("")))
                    .cloned()
                    .collect(),
            ))
        }
        (Method::GET, ["dashboards", id, "dashboard_elements"]) => match inst.elements.get(*id) {
            Some(e) => ok(e.clone()),
            None => error(404, "Not found"),
        },
        (Method::GET, ["dashboards", id, "dashboard_filters"]) => match inst.filters.get(*id) {
            Some(f) => ok(f.clone()),
            None if inst.elements.contains_key(*id) => ok(json!([])),
            None => error(404, "Not found"),
        },
        (Method::GET, ["looks", "search"]) => {
            let title = q.get("title").cloned().unwrap_or_else(|| "%".into());
            ok(Value::Array(
                inst.looks
                    .iter()
                    .filter(|l| like(&title, l["title"].as_str().unwrap_or("")))
                    .cloned()
                    .collect(),
            ))
        }
        (Method::GET, ["looks", id]) => match inst.looks.iter().find(|l| l["id"] == *id) {
            Some(l) => ok(l.clone()),
            None => error(404, "Not found"),
        },
        (Method::GET, ["looks", id, "run", fmt]) => {
            match inst.looks.iter().find(|l| l["id"] == *id) {
                Some(l) => run(l["query_id"].as_str().unwrap_or(""), &q, fmt),
                None => error(404, "Not found"),
            }
        }
        (Method::GET, ["queries", id]) => match inst.queries.get(*id) {
            Some(query) => ok(query.clone()),
            None => error(404, "Not found"),
        },
        (Method::GET, ["queries", id, "run", fmt]) => run(id, &q, fmt),
        (Method::POST, ["queries", "run", fmt]) => {
            if *fmt != "json_detail" {
                return error(400, "only json_detail is served here");
            }
            let Ok(query) = serde_json::from_slice::<Value>(&body) else {
                return error(400, "body is not JSON");
            };
            let (Some(model), Some(view)) = (query["model"].as_str(), query["view"].as_str())
            else {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": "Validation Failed", "errors": [{"field": "model", "code": "missing", "message": "model and view are required"}], "documentation_url": "x"}).to_string(),
                )
                    .into_response();
            };
            let filters = query.get("filters").cloned().unwrap_or(json!({}));
            match inst
                .inline_results
                .iter()
                .find(|(m, v, f, _)| m == model && v == view && *f == filters)
            {
                Some((_, _, _, r)) => ok(r.clone()),
                None => error(400, &format!("no inline result for filters {filters}")),
            }
        }
        _ => error(404, "Not found"),
    }
}

/// A `json_detail` body. `dimensions` are `(name, is_time)`; each row gives its dimension
/// values and, per measure, one value, or one per pivot value when `pivot` is given (a row
/// total column is added, as Looker does).
pub fn detail(
    dimensions: &[(&str, bool)],
    measures: &[&str],
    pivot: Option<(&str, &[&str])>,
    rows: &[(&[&str], &[Value])],
) -> Value {
    let dims: Vec<Value> = dimensions
        .iter()
        .map(|(n, time)| {
            json!({"name": n, "label": n, "is_numeric": false, "is_timeframe": time,
                   "type": if *time { "date_month" } else { "string" }, "category": "dimension"})
        })
        .collect();
    let meas: Vec<Value> = measures
        .iter()
        .map(|n| json!({"name": n, "label": n, "is_numeric": true, "type": "count", "category": "measure"}))
        .collect();
    let mut data = Vec::new();
    for (dim_values, values) in rows {
        let mut row = serde_json::Map::new();
        for ((name, _), v) in dimensions.iter().zip(dim_values.iter()) {
            row.insert(name.to_string(), json!({"value": v, "rendered": v}));
        }
        match pivot {
            None => {
                for (m, v) in measures.iter().zip(values.iter()) {
                    row.insert(m.to_string(), json!({"value": v}));
                }
            }
            Some((_, keys)) => {
                for (mi, m) in measures.iter().enumerate() {
                    let mut cells = serde_json::Map::new();
                    let mut total = 0.0;
                    for (ki, k) in keys.iter().enumerate() {
                        let v = &values[mi * keys.len() + ki];
                        total += v.as_f64().unwrap_or(0.0);
                        cells.insert(k.to_string(), json!({"value": v}));
                    }
                    cells.insert("$$$_row_total_$$$".into(), json!({"value": total}));
                    row.insert(m.to_string(), Value::Object(cells));
                }
            }
        }
        data.push(Value::Object(row));
    }
    let (pivot_fields, pivots) = match pivot {
        None => (json!([]), Value::Null),
        Some((field, keys)) => {
            let mut list: Vec<Value> = keys
                .iter()
                .map(|k| json!({"key": k, "is_total": false, "data": {field: k}, "metadata": {}}))
                .collect();
            list.push(
                json!({"key": "$$$_row_total_$$$", "is_total": true, "data": {}, "metadata": {}}),
            );
            (
                json!([{"name": field, "label": field, "is_numeric": false, "category": "dimension"}]),
                Value::Array(list),
            )
        }
    };
    let mut body = json!({
        "status": "complete", "from_cache": false, "id": "run",
        "fields": {"dimensions": dims, "measures": meas, "table_calculations": [], "pivots": pivot_fields},
        "has_totals": false, "has_row_totals": pivot.is_some(), "timezone": "UTC",
        "data": data,
    });
    if !pivots.is_null() {
        body["pivots"] = pivots;
    }
    body
}

/// A saved query.
pub fn query(id: &str, fields: &[&str], pivots: &[&str]) -> Value {
    json!({"id": id, "model": "ecommerce", "view": "orders", "fields": fields, "pivots": pivots,
           "filters": {"orders.created_date": "this quarter"}, "sorts": [], "limit": "500",
           "client_id": "abc", "slug": "xyz", "can": {}})
}

/// A visualisation tile over a saved query.
pub fn tile(id: &str, title: &str, query_id: &str) -> Value {
    json!({"id": id, "type": "vis", "title": title, "query_id": query_id,
           "result_maker": {"id": format!("rm{id}"), "query_id": query_id, "filterables": []}})
}

/// The Looker instance the demo job's archive comes from: a "Sales Overview" dashboard and a
/// "Weekly active teams" look.
pub fn demo_instance() -> Instance {
    let mut i = Instance {
        client_id: "demo-client".into(),
        client_secret: "demo-secret".into(),
        token_ttl_secs: 3600,
        ..Instance::default()
    };
    i.dashboards = vec![
        json!({"id": "7", "title": "Sales Overview"}),
        json!({"id": "8", "title": "Sales Overview (old)"}),
    ];
    i.elements.insert(
        "7".into(),
        json!([
            tile("71", "Demos booked", "101"),
            tile("72", "Payment success rate", "102"),
            {"id": "73", "type": "text", "title_text": "How to read this dashboard", "body_text": "…"},
        ]),
    );
    i.queries.insert(
        "101".into(),
        query(
            "101",
            &["demos.booked_month", "users.team", "demos.count"],
            &["users.team"],
        ),
    );
    i.results.insert(
        "101".into(),
        detail(
            &[("demos.booked_month", true)],
            &["demos.count"],
            Some(("users.team", &["AMER", "EMEA"])),
            &[
                (&["2026-02"], &[json!(9), json!(7)]),
                (&["2026-03"], &[json!(11), json!(12)]),
                (&["2026-04"], &[json!(6), json!(5)]),
            ],
        ),
    );
    i.queries.insert(
        "102".into(),
        query(
            "102",
            &[
                "payments.created_month",
                "payments.success_rate",
                "payments.count",
            ],
            &[],
        ),
    );
    i.results.insert(
        "102".into(),
        detail(
            &[("payments.created_month", true)],
            &["payments.success_rate", "payments.count"],
            None,
            &[
                (&["2026-02"], &[json!(0.9812), json!(40211)]),
                (&["2026-03"], &[json!(0.9871), json!(41877)]),
                (&["2026-04"], &[json!(0.9893), json!(12040)]),
            ],
        ),
    );
    i.looks = vec![json!({"id": "42", "title": "Weekly active teams", "query_id": "104"})];
    i.queries.insert(
        "104".into(),
        query("104", &["activity.week", "activity.teams"], &[]),
    );
    i.results.insert(
        "104".into(),
        detail(
            &[("activity.week", true)],
            &["activity.teams"],
            None,
            &[
                (&["2026-02-02"], &[json!(120)]),
                (&["2026-02-09"], &[json!(121)]),
                (&["2026-02-16"], &[json!(123)]),
                (&["2026-02-23"], &[json!(122)]),
                (&["2026-03-02"], &[json!(125)]),
                (&["2026-03-09"], &[json!(126)]),
                (&["2026-03-16"], &[json!(128)]),
                (&["2026-03-23"], &[json!(129)]),
                (&["2026-03-30"], &[json!(131)]),
                (&["2026-04-06"], &[json!(138)]),
                (&["2026-04-13"], &[json!(152)]),
            ],
        ),
    );
    i
}
