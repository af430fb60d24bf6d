//! The Looker source against a fake Looker on loopback that speaks the API 4.0 contract:
//! values checked by hand for every selection rule, shared tiles fetched once, dashboard
//! filters applied, and the HTTP behaviour (token renewal, 401, 403/404, 429, 5xx,
//! timeouts, bad bodies).

mod common;

use common::looker::{FakeLooker, FaultKind, Instance, demo_instance, detail, query, tile};
use okrflow::job::Plan;
use okrflow::sources::looker;
use okrflow::sources::{ApiOptions, Cause, KrValue, Measured};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// A job with one Looker connection to `url` (credentials in `<prefix>_ID`/`<prefix>_SECRET`,
/// set here) and one objective holding `krs` (TOML `[[objectives.key_results]]` bodies).
fn plan(url: &str, prefix: &str, connection_extra: &str, krs: &[(&str, &str)]) -> Plan {
    // SAFETY: each test uses its own variable names, so no other thread reads them.
    unsafe {
        std::env::set_var(format!("{prefix}_ID"), "test-client");
        std::env::set_var(format!("{prefix}_SECRET"), "test-secret-value");
    }
    let mut text = format!(
        "[job]\nname = 't'\n[output]\nurl = 'out'\n[connections.lk]\nkind = 'looker'\n\
         base_url = '{url}'\nclient_id_env = '{prefix}_ID'\nclient_secret_env = '{prefix}_SECRET'\n\
         {connection_extra}\n[[objectives]]\nid = 'O'\ntitle = 't'\nowner = 'o'\nperiod = 'FY26-Q4'\n"
    );
    for (id, source) in krs {
        text.push_str(&format!(
            "[[objectives.key_results]]\nid = '{id}'\ntitle = '{id}'\nowner = 'o'\n\
             measure = {{ kpi = {{ start = 0, target = 100 }} }}\nsource = {{ looker = {{ {source} }} }}\n"
        ));
    }
    okrflow::job::parse(Path::new("/tmp/job.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Fetches and computes every key result of the plan's Looker connection.
async fn values(plan: &Plan) -> BTreeMap<String, Result<Measured, String>> {
    by_id(&extracted(plan).await)
}

/// The connection's values as extracted, errors with their cause.
async fn extracted(plan: &Plan) -> Vec<KrValue> {
    let krs: Vec<_> = plan.key_results.iter().collect();
    let okrflow::job::Connection::Looker(settings) = &plan.connections["lk"] else {
        unreachable!()
    };
    looker::extract("lk", settings, &krs, &ApiOptions::default())
        .await
        .unwrap()
}

/// Each key result's value or error text, by id.
fn by_id(values: &[KrValue]) -> BTreeMap<String, Result<Measured, String>> {
    values
        .iter()
        .map(|v| (v.kr_id.clone(), v.value.clone().map_err(|e| e.to_string())))
        .collect()
}

/// Why key result `id` failed: the job's configuration, or the source today.
fn cause(values: &[KrValue], id: &str) -> Cause {
    let v = values.iter().find(|v| v.kr_id == id).unwrap();
    v.value.as_ref().expect_err(id).cause()
}

fn ok(values: &BTreeMap<String, Result<Measured, String>>, id: &str) -> f64 {
    match &values[id] {
        Ok(m) => m
            .number()
            .unwrap_or_else(|| panic!("{id} has no data: {m:?}")),
        Err(e) => panic!("{id} failed: {e}"),
    }
}

fn err(values: &BTreeMap<String, Result<Measured, String>>, id: &str) -> String {
    match &values[id] {
        Ok(x) => panic!("{id} should fail, got {x:?}"),
        Err(e) => e.clone(),
    }
}

/// Why a key result has nothing to measure yet; panics on a value or an error.
fn no_data(v: &BTreeMap<String, Result<Measured, String>>, id: &str) -> String {
    match &v[id] {
        Ok(Measured::NoData(n)) => n.clone(),
        other => panic!("{id} should have no data, got {other:?}"),
    }
}

/// A "Product" dashboard: signups by month and rep, pivoted by team; a tile without an
/// x-axis; a tile with a non-numeric cell; a tile that listens to a dashboard filter; text,
/// merged-results and SQL Runner tiles. Plus two looks sharing a title.
fn product_instance() -> Instance {
    let mut i = Instance {
        client_id: "test-client".into(),
        client_secret: "test-secret-value".into(),
        token_ttl_secs: 3600,
        ..Instance::default()
    };
    i.dashboards = vec![
        json!({"id": "1", "title": "Product"}),
        json!({"id": "2", "title": "product"}),
        json!({"id": "3", "title": "Product_KPIs"}),
        json!({"id": "4", "title": "Product KPIs"}),
    ];
    i.elements.insert(
        "1".into(),
        json!([
            tile("11", "Signups", "201"),
            tile("12", "Conversion", "202"),
            tile("13", "Quality", "203"),
            {"id": "14", "type": "vis", "title": "Pipeline", "query_id": "204",
             "result_maker": {"id": "rm14", "query_id": "204",
                 "filterables": [{"model": "ecommerce", "view": "orders", "name": "orders",
                                  "listen": [{"dashboard_filter_name": "Region", "field": "users.region"}]}]}},
            {"id": "15", "type": "text", "title_text": "Read me", "body_text": "…"},
            {"id": "16", "type": "vis", "title": "Merged", "merge_result_id": "m1", "result_maker": {"merge_result_id": "m1"}},
            {"id": "17", "type": "vis", "title": "Raw SQL", "result_maker": {"sql_query_id": "s1"}},
            tile("18", "Signups by rep", "205"),
        ]),
    );
    i.filters.insert(
        "1".into(),
        json!([{"name": "Region", "default_value": "EMEA"}, {"name": "Unused", "default_value": "x"}]),
    );
    let v = |x: f64| json!(x);
    let null = serde_json::Value::Null;
    i.results.insert(
        "201".into(),
        detail(
            &[("signups.month", true), ("users.name", false)],
            &["signups.count", "signups.revenue"],
            Some(("users.team", &["AMER", "EMEA"])),
            &[
                // count AMER, count EMEA, revenue AMER, revenue EMEA
                (&["2026-09", "Dana"], &[v(3.0), v(1.0), v(300.0), v(100.0)]),
                (
                    &["2026-09", "Eli"],
                    &[v(2.0), null.clone(), v(150.0), null.clone()],
                ),
                (&["2026-10", "Dana"], &[v(4.0), v(2.0), v(420.0), v(180.0)]),
                (&["2026-10", "Eli"], &[v(1.0), v(5.0), v(90.0), v(510.0)]),
            ],
        ),
    );
    i.results.insert(
        "202".into(),
        detail(&[], &["funnel.conversion"], None, &[(&[], &[v(0.2345)])]),
    );
    i.results.insert(
        "203".into(),
        detail(
            &[("quality.week", true)],
            &["quality.score"],
            None,
            &[
                (&["2026-10-05"], &[v(0.91)]),
                (&["2026-10-12"], &[json!("n/a")]),
            ],
        ),
    );
    i.queries
        .insert("204".into(), query("204", &["orders.count"], &[]));
    i.results.insert(
        "204".into(),
        detail(&[], &["orders.count"], None, &[(&[], &[v(999.0)])]),
    );
    i.inline_results.push((
        "ecommerce".into(),
        "orders".into(),
        json!({"orders.created_date": "this quarter", "users.region": "EMEA"}),
        detail(&[], &["orders.count"], None, &[(&[], &[v(77.0)])]),
    ));
    i.results.insert(
        "205".into(),
        detail(
            &[("users.name", false)],
            &["signups.count"],
            None,
            &[(&["Dana"], &[v(10.0)]), (&["Eli"], &[v(3.0)])],
        ),
    );
    i.looks = vec![
        json!({"id": "42", "title": "Weekly demos", "query_id": "202"}),
        json!({"id": "43", "title": "Weekly demos (EMEA)", "query_id": "205"}),
        json!({"id": "50", "title": "Churn", "query_id": "203"}),
        json!({"id": "51", "title": "Churn", "query_id": "203"}),
    ];
    i
}

#[tokio::test]
async fn each_selection_rule_gives_the_number_checked_by_hand() {
    let looker = FakeLooker::start(product_instance()).await;
    let signups = "dashboard = 'Product', tile = 'Signups'";
    let plan = plan(
        &looker.url(),
        "LK_RULES",
        "",
        &[
            // 2026-10, EMEA: Dana 2 + Eli 5.
            (
                "latest-sum",
                &format!(
                    "{signups}, measure = 'signups.count', pivot = {{ 'users.team' = 'EMEA' }}, aggregate = 'sum'"
                ),
            ),
            // 2026-10, EMEA, Dana only.
            (
                "latest-filter",
                &format!(
                    "{signups}, measure = 'signups.count', pivot = {{ 'users.team' = 'EMEA' }}, filter = {{ 'users.name' = 'Dana' }}"
                ),
            ),
            // Every month, EMEA: 1, null, 2, 5 → three numbers; the null is skipped.
            (
                "all-count",
                &format!(
                    "{signups}, x = 'all', measure = 'signups.count', pivot = {{ 'users.team' = 'EMEA' }}, aggregate = 'count'"
                ),
            ),
            // 2026-09, both teams: 300 + 100 + 150 (+ null).
            (
                "month-sum",
                &format!(
                    "{signups}, x = '2026-09', measure = 'signups.revenue', aggregate = 'sum'"
                ),
            ),
            // Eli in AMER over both months: (2 + 1) / 2.
            (
                "eli-avg",
                &format!(
                    "{signups}, x = 'all', measure = 'signups.count', pivot = {{ 'users.team' = 'AMER' }}, filter = {{ 'users.name' = 'Eli' }}, aggregate = 'avg'"
                ),
            ),
            // 2026-10, every cell: 4, 2, 1, 5.
            (
                "latest-max",
                &format!("{signups}, measure = 'signups.count', aggregate = 'max'"),
            ),
            (
                "latest-min",
                &format!("{signups}, measure = 'signups.count', aggregate = 'min'"),
            ),
            // No x-axis: the one cell, as a percentage.
            (
                "percent",
                "dashboard = 'Product', tile = 'Conversion', format = 'percentage'",
            ),
            // A look by title (exact: not "Weekly demos (EMEA)").
            ("look", "look = 'Weekly demos'"),
            ("look-id", "look_id = '43', x = 'Dana'"),
            // The tile listens to the dashboard filter Region = EMEA: 77, not the saved run's 999.
            ("filtered", "dashboard = 'Product', tile = 'Pipeline'"),
            // The bad cell is in the newest week; an older week still reads.
            (
                "older-week",
                "dashboard = 'Product', tile = 'Quality', x = '2026-10-05', format = 'percentage'",
            ),
        ],
    );
    let v = values(&plan).await;
    assert_eq!(ok(&v, "latest-sum"), 7.0);
    assert_eq!(ok(&v, "latest-filter"), 2.0);
    assert_eq!(ok(&v, "all-count"), 3.0);
    assert_eq!(ok(&v, "month-sum"), 550.0);
    assert_eq!(ok(&v, "eli-avg"), 1.5);
    assert_eq!(ok(&v, "latest-max"), 5.0);
    assert_eq!(ok(&v, "latest-min"), 1.0);
    assert!((ok(&v, "percent") - 23.45).abs() < 1e-9);
    assert!((ok(&v, "look") - 23.45 / 100.0).abs() < 1e-12);
    assert_eq!(ok(&v, "look-id"), 10.0);
    assert_eq!(ok(&v, "filtered"), 77.0);
    assert!((ok(&v, "older-week") - 91.0).abs() < 1e-9);

    // Seven key results read the Signups tile: one search, one element list, one run.
    assert_eq!(
        looker.count("GET /api/4.0/dashboards/search"),
        1,
        "{:#?}",
        looker.log()
    );
    assert_eq!(
        looker.count("GET /api/4.0/dashboards/1/dashboard_elements"),
        1
    );
    assert_eq!(looker.count("GET /api/4.0/queries/201/run/json_detail"), 1);
    assert_eq!(looker.count("POST /api/4.0/queries/run/json_detail"), 1);
    assert_eq!(
        looker.count("GET /api/4.0/queries/204/run"),
        0,
        "the filtered tile runs inline"
    );
    assert_eq!(
        looker
            .server
            .logins
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        looker
            .server
            .logouts
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn selections_that_cannot_give_one_number_say_why() {
    let looker = FakeLooker::start(product_instance()).await;
    let signups = "dashboard = 'Product', tile = 'Signups'";
    let plan = plan(
        &looker.url(),
        "LK_ERRORS",
        "",
        &[
            ("many", &format!("{signups}, measure = 'signups.count'")),
            ("which-measure", signups),
            (
                "unknown-measure",
                &format!("{signups}, measure = 'signups.nope'"),
            ),
            (
                "unknown-pivot",
                &format!(
                    "{signups}, measure = 'signups.count', pivot = {{ 'users.region' = 'EMEA' }}"
                ),
            ),
            (
                "missing-column",
                &format!(
                    "{signups}, measure = 'signups.count', pivot = {{ 'users.team' = 'APAC' }}"
                ),
            ),
            (
                "unknown-filter",
                &format!(
                    "{signups}, measure = 'signups.count', filter = {{ 'users.city' = 'Oslo' }}"
                ),
            ),
            ("not-time", "dashboard = 'Product', tile = 'Signups by rep'"),
            ("text-cell", "dashboard = 'Product', tile = 'Quality'"),
            (
                "no-row",
                &format!("{signups}, x = '2025-01', measure = 'signups.count', aggregate = 'sum'"),
            ),
            (
                "all-null",
                &format!(
                    "{signups}, x = '2026-09', measure = 'signups.count', pivot = {{ 'users.team' = 'EMEA' }}, filter = {{ 'users.name' = 'Eli' }}"
                ),
            ),
            ("text-tile", "dashboard = 'Product', tile = 'Read me'"),
            ("merged", "dashboard = 'Product', tile = 'Merged'"),
            ("sql-runner", "dashboard = 'Product', tile = 'Raw SQL'"),
            ("no-tile", "dashboard = 'Product', tile = 'Signup'"),
            ("no-dashboard", "dashboard = 'PRODUCT_KPIS', tile = 'x'"),
            ("ambiguous-look", "look = 'Churn'"),
        ],
    );
    let raw = extracted(&plan).await;
    let v = by_id(&raw);
    // Unknown or ambiguous targets and unreadable tiles cannot work as configured (exit 4).
    for id in ["text-tile", "no-tile", "no-dashboard", "ambiguous-look"] {
        assert_eq!(cause(&raw, id), Cause::Configuration, "{id}");
    }
    let e = |id| err(&v, id);
    assert!(
        e("many").contains("4 values selected; set aggregate"),
        "{}",
        e("many")
    );
    assert!(
        e("which-measure")
            .contains("the result has 2 measures (signups.count, signups.revenue); choose one"),
        "{}",
        e("which-measure")
    );
    assert!(
        e("unknown-measure").contains(
            "measure `signups.nope` is not in the result (measures: signups.count, signups.revenue)"
        ),
        "{}",
        e("unknown-measure")
    );
    assert!(
        e("unknown-pivot")
            .contains("pivot `users.region` is not a pivot of the result (pivots: users.team)"),
        "{}",
        e("unknown-pivot")
    );
    assert!(
        e("missing-column").contains("pivot `users.team` has no column `APAC`")
            && e("missing-column").contains("AMER, EMEA"),
        "{}",
        e("missing-column")
    );
    assert!(e("unknown-filter").contains("filter field `users.city` is not a dimension of the result (dimensions: signups.month, users.name)"), "{}", e("unknown-filter"));
    assert!(
        e("not-time").contains("x = \"latest\" needs a time x-axis, and `users.name` is not one"),
        "{}",
        e("not-time")
    );
    assert!(
        e("text-cell").contains(
            "field `quality.score` has a value that is not a number: `n/a` (x = 2026-10-12)"
        ),
        "{}",
        e("text-cell")
    );
    assert!(
        e("no-row").contains("no row has signups.month = `2025-01`"),
        "{}",
        e("no-row")
    );
    // Only null cells for the selection: the source answered, nothing to measure yet.
    let n = no_data(&v, "all-null");
    assert!(
        n.ends_with("no data yet: the 1 selected cell(s) are all null"),
        "{n}"
    );
    assert!(
        e("text-tile").contains("is a text tile"),
        "{}",
        e("text-tile")
    );
    assert!(
        e("merged").contains("merged-results tile"),
        "{}",
        e("merged")
    );
    assert!(
        e("sql-runner").contains("SQL Runner tile"),
        "{}",
        e("sql-runner")
    );
    assert!(
        e("no-tile").contains(
            "dashboard `Product` tile `Signup`: not found (similar titles: `Signups`, `Conversion`"
        ),
        "{}",
        e("no-tile")
    );
    // The search matches case-insensitively and `_` as any character; titles match exactly.
    assert!(
        e("no-dashboard").contains("dashboard `PRODUCT_KPIS`: not found (similar titles: `Product_KPIs` (id 3), `Product KPIs` (id 4))"),
        "{}",
        e("no-dashboard")
    );
    assert!(
        e("ambiguous-look").contains(
            "look `Churn`: 2 match; use the id instead (found: `Churn` (id 50), `Churn` (id 51))"
        ),
        "{}",
        e("ambiguous-look")
    );
    // Each message names the key result's connection or the key result itself.
    assert!(
        e("text-tile").starts_with("connection `lk`: dashboard `Product` tile `Read me`"),
        "{}",
        e("text-tile")
    );
    assert!(
        e("many").starts_with("key result many: dashboard `Product` tile `Signups`: "),
        "{}",
        e("many")
    );
}

fn simple_instance() -> Instance {
    let mut i = product_instance();
    i.token_ttl_secs = 3600;
    i
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire_and_after_a_401() {
    let mut inst = simple_instance();
    // A token that lives 11 s is renewed after 1 s (10 s early).
    inst.token_ttl_secs = 11;
    let looker = FakeLooker::start(inst).await;
    *looker.server.rec.latency.lock().unwrap() = Duration::from_millis(350);
    let plan = plan(
        &looker.url(),
        "LK_TOKEN",
        "concurrency = 1",
        &[
            ("a", "dashboard = 'Product', tile = 'Conversion'"),
            ("b", "look = 'Weekly demos'"),
            ("c", "look_id = '43', x = 'Eli'"),
        ],
    );
    let v = values(&plan).await;
    assert_eq!(ok(&v, "c"), 3.0);
    let logins = looker
        .server
        .logins
        .load(std::sync::atomic::Ordering::SeqCst);
    // Without renewal this is one login: the server's tokens outlive the test.
    assert!(
        logins >= 2,
        "the token was renewed on time: {logins} login(s)"
    );

    // A token revoked by the server (401) is replaced once, and the request retried.
    let looker = FakeLooker::start(simple_instance()).await;
    looker.fault(
        "/queries/202/run",
        FaultKind::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    let plan2 = plan_with(
        &looker,
        "LK_401",
        &[("a", "dashboard = 'Product', tile = 'Conversion'")],
    );
    let v = values(&plan2).await;
    assert!((ok(&v, "a") - 0.2345).abs() < 1e-12);
    assert_eq!(
        looker
            .server
            .logins
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_eq!(looker.count("GET /api/4.0/queries/202/run"), 2);

    // Refused twice: the key result fails, saying so; no endless loop.
    let looker = FakeLooker::start(simple_instance()).await;
    looker.fault(
        "/queries/202/run",
        FaultKind::Status {
            status: 401,
            retry_after: None,
        },
        5,
    );
    let v = values(&plan_with(
        &looker,
        "LK_401B",
        &[("a", "dashboard = 'Product', tile = 'Conversion'")],
    ))
    .await;
    assert!(
        err(&v, "a").contains("HTTP 401")
            && err(&v, "a").contains("refused even after logging in again"),
        "{}",
        err(&v, "a")
    );
    assert_eq!(looker.count("GET /api/4.0/queries/202/run"), 2);
}

fn plan_with(looker: &FakeLooker, prefix: &str, krs: &[(&str, &str)]) -> Plan {
    plan(
        &looker.url(),
        prefix,
        "max_retries = 2\ntimeout_secs = 0.5",
        krs,
    )
}

#[tokio::test]
async fn http_errors_fail_only_their_key_results_with_clear_messages() {
    let looker = FakeLooker::start(simple_instance()).await;
    // 404 on one look's run, 403 on another's; 429 (Retry-After: 1) then success; 500 then
    // success; 500 forever; a slow answer past the timeout; a body that is not JSON.
    looker.fault(
        "/looks/42/run",
        FaultKind::Status {
            status: 404,
            retry_after: None,
        },
        1,
    );
    looker.fault(
        "/looks/43/run",
        FaultKind::Status {
            status: 403,
            retry_after: None,
        },
        1,
    );
    looker.fault(
        "/queries/202/run",
        FaultKind::Status {
            status: 429,
            retry_after: Some("1".into()),
        },
        1,
    );
    looker.fault(
        "/queries/205/run",
        FaultKind::Status {
            status: 502,
            retry_after: None,
        },
        1,
    );
    looker.fault(
        "/queries/201/run",
        FaultKind::Status {
            status: 500,
            retry_after: None,
        },
        100,
    );
    looker.fault(
        "/queries/203/run",
        FaultKind::Delay(Duration::from_secs(3)),
        100,
    );
    looker.fault("/looks/50/run", FaultKind::Garbage, 1);
    let plan = plan_with(
        &looker,
        "LK_HTTP",
        &[
            ("missing", "look_id = '42'"),
            ("forbidden", "look_id = '43', x = 'Dana'"),
            ("throttled", "dashboard = 'Product', tile = 'Conversion'"),
            (
                "flaky",
                "dashboard = 'Product', tile = 'Signups by rep', x = 'Dana'",
            ),
            (
                "down",
                "dashboard = 'Product', tile = 'Signups', measure = 'signups.count', aggregate = 'sum'",
            ),
            (
                "cold",
                "dashboard = 'Product', tile = 'Quality', x = '2026-10-05'",
            ),
            ("garbage", "look_id = '50', x = '2026-10-05'"),
        ],
    );
    let started = Instant::now();
    let raw = extracted(&plan).await;
    let elapsed = started.elapsed();
    let v = by_id(&raw);
    // A look Looker does not have (404) is the job's configuration; 403 and 5xx failed today.
    assert_eq!(cause(&raw, "missing"), Cause::Configuration);
    assert_eq!(cause(&raw, "forbidden"), Cause::Today);
    assert_eq!(cause(&raw, "down"), Cause::Today);

    assert!(
        err(&v, "missing").contains("look 42: GET http://")
            && err(&v, "missing").contains(
                "HTTP 404: injected fault — it does not exist, or the API user cannot see it"
            ),
        "{}",
        err(&v, "missing")
    );
    assert!(
        err(&v, "forbidden").contains("look 43:")
            && err(&v, "forbidden").contains("HTTP 403")
            && err(&v, "forbidden").contains("not allowed"),
        "{}",
        err(&v, "forbidden")
    );
    assert!((ok(&v, "throttled") - 0.2345).abs() < 1e-12);
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was honoured ({elapsed:?})"
    );
    assert_eq!(ok(&v, "flaky"), 10.0);
    assert!(err(&v, "down").contains("HTTP 500"), "{}", err(&v, "down"));
    assert_eq!(
        looker.count("GET /api/4.0/queries/201/run"),
        3,
        "one try and max_retries = 2 retries"
    );
    let cold = err(&v, "cold");
    assert!(
        cold.contains("did not answer within 0.5 s")
            && cold.contains("probably cold")
            && cold.contains("open it in Looker"),
        "{cold}"
    );
    assert_eq!(
        looker.count("GET /api/4.0/queries/203/run"),
        1,
        "a timeout is not retried"
    );
    assert!(
        err(&v, "garbage").contains("unexpected JSON"),
        "{}",
        err(&v, "garbage")
    );
}

#[tokio::test]
async fn bad_credentials_and_unreachable_servers_fail_the_connection_clearly() {
    let looker = FakeLooker::start(Instance {
        client_secret: "another-secret".into(),
        ..simple_instance()
    })
    .await;
    let v = values(&plan_with(
        &looker,
        "LK_CREDS",
        &[("a", "look_id = '42'"), ("b", "look = 'Weekly demos'")],
    ))
    .await;
    for id in ["a", "b"] {
        let e = err(&v, id);
        assert!(
            e.starts_with("connection `lk`: cannot log in: POST http://")
                && e.contains("HTTP 404")
                && e.contains("check the client id and secret"),
            "{e}"
        );
        assert!(!e.contains("test-secret-value"), "{e}");
    }
    assert_eq!(
        looker.count("POST /api/4.0/login"),
        1,
        "one login for the connection"
    );

    // Nothing listens on this port: connection refused, retried, then reported.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = plan(
        &format!("http://{closed}"),
        "LK_CLOSED",
        "max_retries = 1",
        &[("a", "look_id = '1'")],
    );
    let v = values(&p).await;
    assert!(err(&v, "a").contains("cannot connect"), "{}", err(&v, "a"));

    // A variable that is not set names itself.
    let mut p = plan_with(&looker, "LK_UNSET", &[("a", "look_id = '42'")]);
    if let okrflow::job::Connection::Looker(s) = p.connections.get_mut("lk").unwrap() {
        s.client_secret_env = "LK_SURELY_NOT_SET_ANYWHERE".into();
    }
    let v = values(&p).await;
    assert_eq!(
        err(&v, "a"),
        "connection `lk`: cannot log in: environment variable LK_SURELY_NOT_SET_ANYWHERE is not set (it should hold the Looker API client secret)"
    );
}

/// The demo job's Looker key results read the bundled archive in jobs/demo/raw/. This
/// test runs them against the fake instance, archives what it answers, and checks that the
/// bundled archive is exactly that (request keys, requests and bodies). After a deliberate
/// change, `OKRFLOW_BLESS=1 cargo test demo_archive` rewrites the archive.
#[tokio::test]
async fn demo_archive_is_what_the_looker_contract_answers() {
    let looker = FakeLooker::start(demo_instance()).await;
    let mut plan = common::demo_plan();
    let okrflow::job::Connection::Looker(settings) =
        plan.connections.get_mut("looker_demo").unwrap()
    else {
        unreachable!()
    };
    settings.base_url = url::Url::parse(&looker.url()).unwrap();
    settings.replay = None;
    settings.client_id_env = "LK_DEMO_ARCHIVE_ID".into();
    settings.client_secret_env = "LK_DEMO_ARCHIVE_SECRET".into();
    // SAFETY: variables only this test uses.
    unsafe {
        std::env::set_var("LK_DEMO_ARCHIVE_ID", "demo-client");
        std::env::set_var("LK_DEMO_ARCHIVE_SECRET", "demo-secret");
    }
    let tmp = tempfile::tempdir().unwrap();
    let api = ApiOptions {
        replay: None,
        archive: Some(okrflow::sources::http::Archive::local(tmp.path()).unwrap()),
        ..ApiOptions::default()
    };
    let krs = okrflow::pipeline::key_results_of(&plan, "looker_demo");
    let okrflow::job::Connection::Looker(settings) = &plan.connections["looker_demo"] else {
        unreachable!()
    };
    let values: BTreeMap<String, f64> = looker::extract("looker_demo", settings, &krs, &api)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.kr_id.clone(), v.number().unwrap()))
        .collect();
    // EMEA demos over Feb–Apr: 7 + 12 + 5; April's payment success 0.9893 as a percentage;
    // the newest week of active teams.
    assert_eq!(values["O4-KR1"], 24.0);
    assert!((values["O4-KR2"] - 98.93).abs() < 1e-9);
    assert_eq!(values["O4-KR3"], 152.0);

    common::check_bundled_archive(tmp.path(), "looker_demo", &["demo-secret", "access_token"]);
}
