//! The Jira source against a fake Jira on loopback, for Cloud and Data Center: each metric in
//! each mode with numbers worked out by hand, the seeds' examples, paging with a server that
//! sends fewer issues than asked, shared fetches, counting requests, and the HTTP behaviour.

mod common;

use common::fake_http::FaultKind;
use common::jira::{FakeJira, Site, issue};
use okrflow::job::{Connection, Plan};
use okrflow::sources::jira::config::Deployment;
use okrflow::sources::{ApiOptions, Cause, KrValue, Measured, jira};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const EPIC: &str = "parent = AE-786";
const BUGS: &str = "project = PAY AND type = Bug";

/// The AE-786 epic (10 stories, 3 done) and 26 PAY bugs (20 done). Time in seconds.
fn site(deployment: Deployment) -> Site {
    let mut s = Site::new(deployment);
    let h = |hours: f64| Some((hours * 3600.0) as i64);
    let stories = [
        // key, category, [spent, original, remaining], progress (logged, total), points
        (
            "AE-1",
            "done",
            [h(2.0), h(4.0), h(0.0)],
            Some((7200, 14400)),
            Some(3.0),
        ),
        (
            "AE-2",
            "done",
            [h(1.0), h(2.0), h(0.0)],
            Some((3600, 7200)),
            Some(5.0),
        ),
        (
            "AE-3",
            "done",
            [None, h(1.0), None],
            Some((0, 0)),
            Some(2.0),
        ),
        (
            "AE-4",
            "indeterminate",
            [h(1.5), h(8.0), h(5.0)],
            Some((5400, 23400)),
            Some(8.0),
        ),
        (
            "AE-5",
            "indeterminate",
            [None, h(2.0), h(2.0)],
            None,
            Some(3.0),
        ),
        ("AE-6", "new", [None, None, None], None, Some(5.0)),
        ("AE-7", "new", [None, None, None], None, None),
        ("AE-8", "new", [None, None, None], None, Some(1.0)),
        ("AE-9", "new", [None, None, None], None, Some(2.0)),
        ("AE-10", "new", [None, None, None], None, Some(1.0)),
    ];
    for (key, category, time, progress, points) in stories {
        let mut i = issue(key, category, time, progress, points);
        let revenue = match key {
            "AE-1" => json!(100),
            "AE-2" => json!("50"),
            "AE-5" => json!(25.0),
            _ => json!(null),
        };
        i["fields"]["customfield_10050"] = revenue;
        s.add(i, &[EPIC, "parent = AE-786 ORDER BY rank"]);
    }
    for n in 1..=26 {
        let category = if n <= 20 { "done" } else { "new" };
        s.add(
            issue(&format!("PAY-{n}"), category, [None; 3], None, None),
            &[BUGS],
        );
    }
    s
}

/// A plan with one Jira connection to `fake` and one objective holding `krs` as
/// `(id, measure, source fields)`.
fn plan(fake: &FakeJira, prefix: &str, extra: &str, krs: &[(&str, &str, &str)]) -> Plan {
    let site = fake.site().clone();
    // SAFETY: each test uses its own variable names.
    unsafe {
        std::env::set_var(format!("{prefix}_EMAIL"), &site.email);
        std::env::set_var(format!("{prefix}_TOKEN"), &site.token);
    }
    let auth = match site.deployment {
        Deployment::Cloud => format!("deployment = 'cloud'\nemail_env = '{prefix}_EMAIL'\n"),
        Deployment::DataCenter => "deployment = 'data_center'\n".to_string(),
    };
    let retries = if extra.contains("max_retries") {
        ""
    } else {
        "max_retries = 2\n"
    };
    let mut text = format!(
        "[job]\nname = 't'\n[output]\nurl = 'out'\n[connections.jr]\nkind = 'jira'\nbase_url = '{}'\n{auth}\
         token_env = '{prefix}_TOKEN'\n{retries}timeout_secs = 5\n{extra}\n\
         [[objectives]]\nid = 'O'\ntitle = 't'\nowner = 'o'\nperiod = 'FY26-Q4'\n",
        fake.url()
    );
    for (id, measure, source) in krs {
        text.push_str(&format!(
            "[[objectives.key_results]]\nid = '{id}'\ntitle = '{id}'\nowner = 'o'\nmeasure = {measure}\nsource = {{ jira = {{ {source} }} }}\n"
        ));
    }
    okrflow::job::parse(Path::new("/tmp/job.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

async fn values(plan: &Plan) -> BTreeMap<String, Result<Measured, String>> {
    extracted(plan)
        .await
        .into_iter()
        .map(|v| (v.kr_id, v.value.map_err(|e| e.to_string())))
        .collect()
}

/// The connection's values as extracted, errors with their cause.
async fn extracted(plan: &Plan) -> Vec<KrValue> {
    let krs: Vec<_> = plan.key_results.iter().collect();
    let Connection::Jira(settings) = &plan.connections["jr"] else {
        unreachable!()
    };
    jira::extract("jr", settings, &krs, &ApiOptions::default())
        .await
        .unwrap()
}

fn ok(v: &BTreeMap<String, Result<Measured, String>>, id: &str) -> f64 {
    match &v[id] {
        Ok(m) => m
            .number()
            .unwrap_or_else(|| panic!("{id} has no data: {m:?}")),
        Err(e) => panic!("{id} failed: {e}"),
    }
}

fn err(v: &BTreeMap<String, Result<Measured, String>>, id: &str) -> String {
    match &v[id] {
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

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

const PC: &str = "{ percent_complete = {} }";
const KPI: &str = "{ kpi = { start = 0, target = 20 } }";

/// Every metric in every mode on the epic; the numbers are worked out from [`site`].
fn metric_krs() -> Vec<(&'static str, &'static str, String)> {
    let on = |extra: &str| format!("jql = '{EPIC}'{extra}");
    vec![
        // 3 of 10 stories done.
        ("count-pc", PC, on("")),
        ("count-kpi", KPI, on("")),
        ("count-kpi-done", KPI, on(", completed_only = true")),
        // Spent on done 2 + 1 (AE-3 has none) = 3 h of 3 + 1.5 = 4.5 h.
        ("spent-pc", PC, on(", metric = 'time_spent'")),
        ("spent-kpi", KPI, on(", metric = 'time_spent'")),
        (
            "spent-kpi-done",
            KPI,
            on(", metric = 'time_spent', completed_only = true"),
        ),
        // Estimated on done 4 + 2 + 1 = 7 h of 7 + 8 + 2 = 17 h.
        ("estimate-pc", PC, on(", metric = 'original_estimate'")),
        ("estimate-kpi", KPI, on(", metric = 'original_estimate'")),
        // Remaining 0 + 0 + 5 + 2 = 7 h.
        ("remaining-kpi", KPI, on(", metric = 'remaining_estimate'")),
        // Issues with a progress total: 0.5, 0.5 and 1.5/6.5; AE-3's 0/0 has no percent.
        ("progress-kpi", KPI, on(", metric = 'progress'")),
        // Points on done 3 + 5 + 2 = 10 of 30.
        ("points-pc", PC, on(", metric = 'story_points'")),
        ("points-kpi", KPI, on(", metric = 'story_points'")),
        (
            "points-kpi-all",
            KPI,
            on(", metric = 'story_points', completed_only = false"),
        ),
        // Revenue impact by name: 100 + "50" on done, + 25 on AE-5.
        ("revenue-pc", PC, on(", metric = 'Revenue impact'")),
        ("revenue-kpi", KPI, on(", metric = 'customfield_10050'")),
        (
            "revenue-kpi-done",
            KPI,
            on(", metric = 'Revenue impact', completed_only = true"),
        ),
    ]
}

async fn check_every_metric(deployment: Deployment) -> FakeJira {
    let fake = FakeJira::start(site(deployment)).await;
    let krs = metric_krs();
    let krs: Vec<(&str, &str, &str)> = krs.iter().map(|(a, b, c)| (*a, *b, c.as_str())).collect();
    let p = plan(&fake, &format!("JR_METRICS_{deployment:?}"), "", &krs);
    let v = values(&p).await;
    close(ok(&v, "count-pc"), 30.0);
    close(ok(&v, "count-kpi"), 10.0);
    close(ok(&v, "count-kpi-done"), 3.0);
    close(ok(&v, "spent-pc"), 100.0 * 3.0 / 4.5);
    close(ok(&v, "spent-kpi"), 4.5);
    close(ok(&v, "spent-kpi-done"), 3.0);
    close(ok(&v, "estimate-pc"), 100.0 * 7.0 / 17.0);
    close(ok(&v, "estimate-kpi"), 17.0);
    close(ok(&v, "remaining-kpi"), 7.0);
    close(
        ok(&v, "progress-kpi"),
        100.0 * (0.5 + 0.5 + 5400.0 / 23400.0) / 3.0,
    );
    close(ok(&v, "points-pc"), 100.0 * 10.0 / 30.0);
    close(ok(&v, "points-kpi"), 10.0);
    close(ok(&v, "points-kpi-all"), 30.0);
    close(ok(&v, "revenue-pc"), 100.0 * 150.0 / 175.0);
    close(ok(&v, "revenue-kpi"), 175.0);
    close(ok(&v, "revenue-kpi-done"), 150.0);
    fake
}

#[tokio::test]
async fn every_metric_in_every_mode_on_cloud_with_one_paged_fetch() {
    let fake = check_every_metric(Deployment::Cloud).await;
    // Sixteen key results on one JQL: one search, paged 3 + 3 + 3 + 1 although 100 were
    // asked for, with only the fields the metrics need; one field list for the names.
    let searches: Vec<String> = fake
        .server
        .rec
        .log()
        .into_iter()
        .filter(|l| l.contains("/search/jql"))
        .collect();
    assert_eq!(searches.len(), 4, "{searches:#?}");
    assert!(searches[0].contains("maxResults=100"), "{}", searches[0]);
    assert!(
        searches[0].contains("fields=customfield_10016%2Ccustomfield_10050%2Cprogress%2Cstatus%2Ctimeestimate%2Ctimeoriginalestimate%2Ctimespent"),
        "{}",
        searches[0]
    );
    assert!(searches[3].contains("nextPageToken=page-9"));
    assert_eq!(fake.server.rec.count("GET /rest/api/3/field"), 1);
}

#[tokio::test]
async fn every_metric_in_every_mode_on_data_center_with_start_at_paging() {
    let fake = check_every_metric(Deployment::DataCenter).await;
    let searches: Vec<String> = fake
        .server
        .rec
        .log()
        .into_iter()
        .filter(|l| l.contains("/rest/api/2/search"))
        .collect();
    assert_eq!(searches.len(), 4, "{searches:#?}");
    for (i, start) in ["startAt=0", "startAt=3", "startAt=6", "startAt=9"]
        .iter()
        .enumerate()
    {
        assert!(searches[i].contains(start), "{}", searches[i]);
    }
}

#[tokio::test]
async fn the_seeds_examples_and_issues_changing_between_runs() {
    let fake = FakeJira::start(site(Deployment::Cloud)).await;
    let krs = [
        ("stories", PC, "jql = 'parent = AE-786 ORDER BY rank'"),
        (
            "bugs-closed",
            KPI,
            "jql = 'project = PAY AND type = Bug', completed_only = true",
        ),
        (
            "bugs-filed",
            "{ kpi = { start = 0, target = 30 } }",
            "jql = 'project = PAY AND type = Bug'",
        ),
    ];
    let p = plan(&fake, "JR_SEEDS", "", &krs);
    // "3 of 10 stories done → 30 %"; "20 bugs closed hits the goal however many are filed".
    let v = values(&p).await;
    close(ok(&v, "stories"), 30.0);
    close(ok(&v, "bugs-closed"), 20.0);
    close(ok(&v, "bugs-filed"), 26.0);
    // A count-only KPI is one counting request per count, not a search; the percent-complete
    // key result needs only the status field.
    assert_eq!(
        fake.server
            .rec
            .count("POST /rest/api/3/search/approximate-count"),
        2
    );
    assert!(
        fake.server
            .rec
            .log()
            .iter()
            .any(|l| l.contains("/search/jql") && l.contains("fields=status&"))
    );

    // "An 11th story filed → 27 %"; five more bugs filed and closed still count 25 done.
    {
        let mut site = fake.site();
        site.add(
            issue("AE-11", "new", [None; 3], None, None),
            &["parent = AE-786 ORDER BY rank"],
        );
        for n in 27..=31 {
            site.add(
                issue(&format!("PAY-{n}"), "done", [None; 3], None, None),
                &[BUGS],
            );
        }
    }
    let v = values(&p).await;
    close(ok(&v, "stories"), 100.0 * 3.0 / 11.0);
    close(ok(&v, "bugs-closed"), 25.0);
    // AE-4 moves to done.
    fake.site().set_category("AE-4", "done");
    let v = values(&p).await;
    close(ok(&v, "stories"), 100.0 * 4.0 / 11.0);
}

#[tokio::test]
async fn bad_input_fails_only_its_key_results_with_jiras_words() {
    let fake = FakeJira::start(site(Deployment::Cloud)).await;
    fake.site().issues[5]["fields"]["customfield_10050"] = json!({"value": "high"});
    let krs = [
        ("good", PC, "jql = 'parent = AE-786'"),
        ("bad-jql", PC, "jql = 'project = NOPE!'"),
        (
            "not-numeric",
            KPI,
            "jql = 'parent = AE-786 ORDER BY rank', metric = 'Revenue impact'",
        ),
        (
            "no-field",
            KPI,
            "jql = 'parent = AE-786', metric = 'Velocity'",
        ),
        ("empty", PC, "jql = 'project = EMPTY'"),
    ];
    fake.site()
        .queries
        .insert("project = EMPTY".into(), Vec::new());
    let raw = extracted(&plan(&fake, "JR_BAD", "", &krs)).await;
    // A JQL Jira rejects (400) and an unknown field cannot work as configured (exit 4); a
    // value that is not a number is today's data.
    let cause = |id: &str| {
        let v = raw.iter().find(|v| v.kr_id == id).unwrap();
        v.value.as_ref().expect_err(id).cause()
    };
    assert_eq!(cause("bad-jql"), Cause::Configuration);
    assert_eq!(cause("no-field"), Cause::Configuration);
    assert_eq!(cause("not-numeric"), Cause::Today);
    let v: BTreeMap<String, Result<Measured, String>> = raw
        .into_iter()
        .map(|v| (v.kr_id, v.value.map_err(|e| e.to_string())))
        .collect();
    close(ok(&v, "good"), 30.0);
    let e = err(&v, "bad-jql");
    assert!(
        e.starts_with("connection `jr`: JQL `project = NOPE!`: Jira rejected it:")
            && e.contains("Error in the JQL Query: The character '!' is a reserved JQL character"),
        "{e}"
    );
    assert_eq!(
        err(&v, "not-numeric"),
        "connection `jr`: issue AE-6: field `customfield_10050` is not a number: {\"value\":\"high\"}"
    );
    assert_eq!(
        err(&v, "no-field"),
        "connection `jr`: no field named `Velocity` (numeric custom fields: Story point estimate (customfield_10016), Revenue impact (customfield_10050))"
    );
    // no issue matches yet: nothing to measure, not a failure
    assert_eq!(
        no_data(&v, "empty"),
        "JQL `project = EMPTY`: no data yet: no issue matches"
    );
}

#[tokio::test]
async fn auth_throttling_and_server_errors() {
    // Wrong token: the connection and the likely cause are named.
    let fake = FakeJira::start(site(Deployment::Cloud)).await;
    let p = plan(
        &fake,
        "JR_AUTH",
        "",
        &[("a", PC, "jql = 'parent = AE-786'")],
    );
    fake.site().token = "rotated".into();
    let e = err(&values(&p).await, "a");
    assert!(
        e.starts_with("connection `jr`: JQL `parent = AE-786`: GET http://")
            && e.contains("HTTP 401")
            && e.contains("check email_env and token_env"),
        "{e}"
    );
    assert!(!e.contains("jira-token-value"), "{e}");

    // 429 with Retry-After, 429 with X-RateLimit-Reset, then a 503: all retried, all succeed.
    let fake = FakeJira::start(site(Deployment::Cloud)).await;
    fake.server.rec.fault(
        "/search/jql",
        FaultKind::Throttle(vec![("retry-after", "1".into())]),
        1,
    );
    let reset = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    fake.server.rec.fault(
        "/search/jql",
        FaultKind::Throttle(vec![("x-ratelimit-reset", reset)]),
        1,
    );
    fake.server.rec.fault(
        "/search/jql",
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let p = plan(
        &fake,
        "JR_429",
        "max_retries = 4",
        &[("a", PC, "jql = 'parent = AE-786'")],
    );
    let started = Instant::now();
    let v = values(&p).await;
    close(ok(&v, "a"), 30.0);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "the waits Jira asked for were honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.server.rec.count("GET /rest/api/3/search/jql"), 3 + 4);

    // 500 forever: bounded retries, then the key result fails.
    let fake = FakeJira::start(site(Deployment::Cloud)).await;
    fake.server.rec.fault(
        "/search/jql",
        FaultKind::Status {
            status: 500,
            retry_after: None,
        },
        100,
    );
    let v = values(&plan(
        &fake,
        "JR_500",
        "",
        &[("a", PC, "jql = 'parent = AE-786'")],
    ))
    .await;
    assert!(err(&v, "a").contains("HTTP 500"), "{}", err(&v, "a"));
    assert_eq!(
        fake.server.rec.count("GET /rest/api/3/search/jql"),
        3,
        "one try and max_retries = 2"
    );
}

#[tokio::test]
async fn a_proxy_header_comes_from_the_environment_and_is_sent() {
    let mut s = site(Deployment::DataCenter);
    s.proxy_header = Some(("X-Proxy-Auth".into(), "proxy-secret-881".into()));
    let fake = FakeJira::start(s).await;
    // SAFETY: only this test reads it.
    unsafe { std::env::set_var("JR_PROXY_VALUE", "proxy-secret-881") };
    let p = plan(
        &fake,
        "JR_PROXY",
        "extra_headers_env = { 'X-Proxy-Auth' = 'JR_PROXY_VALUE' }",
        &[("a", PC, "jql = 'parent = AE-786'")],
    );
    close(ok(&values(&p).await, "a"), 30.0);
    let p = plan(
        &fake,
        "JR_NOPROXY",
        "",
        &[("a", PC, "jql = 'parent = AE-786'")],
    );
    let e = err(&values(&p).await, "a");
    assert!(
        e.contains("HTTP 403") && e.contains("extra_headers_env"),
        "{e}"
    );
}

/// The demo job's Jira key results read the bundled archive in jobs/demo/raw/. This test runs
/// them against the fake site and checks that the bundled archive is exactly what it answers
/// (`OKRFLOW_BLESS=1 cargo test demo_archive` rewrites it after a deliberate change).
#[tokio::test]
async fn demo_archive_is_what_the_jira_contract_answers() {
    let fake = FakeJira::start(common::jira::demo_site()).await;
    let mut plan = common::demo_plan();
    let Connection::Jira(settings) = plan.connections.get_mut("jira_demo").unwrap() else {
        unreachable!()
    };
    settings.base_url = url::Url::parse(&fake.url()).unwrap();
    settings.replay = None;
    settings.email_env = Some("JR_DEMO_ARCHIVE_EMAIL".into());
    settings.token_env = "JR_DEMO_ARCHIVE_TOKEN".into();
    // SAFETY: variables only this test uses.
    unsafe {
        std::env::set_var("JR_DEMO_ARCHIVE_EMAIL", "demo@acme.test");
        std::env::set_var("JR_DEMO_ARCHIVE_TOKEN", "demo-token");
    }
    let tmp = tempfile::tempdir().unwrap();
    let api = ApiOptions {
        replay: None,
        archive: Some(okrflow::sources::http::Archive::local(tmp.path()).unwrap()),
        ..ApiOptions::default()
    };
    let krs = okrflow::pipeline::key_results_of(&plan, "jira_demo");
    let Connection::Jira(settings) = &plan.connections["jira_demo"] else {
        unreachable!()
    };
    let values: BTreeMap<String, f64> = jira::extract("jira_demo", settings, &krs, &api)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.kr_id.clone(), v.number().unwrap()))
        .collect();
    // 3 of 11 stories done; 14 of 18 bugs closed; points on done stories 3 + 5 + 2.
    close(values["O5-KR1"], 100.0 * 3.0 / 11.0);
    close(values["O5-KR2"], 14.0);
    close(values["O5-KR3"], 10.0);
    common::check_bundled_archive(tmp.path(), "jira_demo", &["demo-token", "Basic "]);
}

/// Runs the binary with the Jira credentials of `site` in its environment.
async fn okrflow(args: &[&str], site: &Site) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (email, token) = (site.email.clone(), site.token.clone());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
            .args(&args)
            .env("OKRFLOW_TEST_JIRA_EMAIL", email)
            .env("OKRFLOW_TEST_JIRA_TOKEN", token)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn job_file(dir: &Path, url: &str, krs: &str) -> std::path::PathBuf {
    let text = format!(
        "[job]\nname = \"cli\"\nfiscal_year_start_month = 2\n[output]\nurl = \"out\"\n\
         [connections.jira]\nkind = \"jira\"\nbase_url = \"{url}\"\nemail_env = \"OKRFLOW_TEST_JIRA_EMAIL\"\n\
         token_env = \"OKRFLOW_TEST_JIRA_TOKEN\"\nmax_retries = 1\n\
         [[objectives]]\nid = \"E\"\ntitle = \"Epic\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n{krs}"
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn kr_toml(id: &str, measure: &str, source: &str) -> String {
    format!(
        "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = {measure}\nsource = {{ jira = {{ {source} }} }}\n"
    )
}

#[tokio::test]
async fn through_the_binary_validate_online_preview_and_no_secret_anywhere() {
    let site = site(Deployment::Cloud);
    let fake = FakeJira::start(site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let krs = [
        kr_toml("E-KR1", PC, "jql = \"parent = AE-786\""),
        kr_toml(
            "E-KR2",
            KPI,
            "jql = \"parent = AE-786\", metric = \"Velocity\"",
        ),
        kr_toml("E-KR3", KPI, "jql = \"project = NOPE!\""),
    ]
    .concat();
    let job = job_file(dir.path(), &fake.url(), &krs);
    let job = job.to_str().unwrap();

    // validate --online: the unknown field and the JQL error, at once, without a search.
    let validate = okrflow(&["validate", job, "--online"], &site).await;
    let out = String::from_utf8_lossy(&validate.stdout).to_string();
    assert_eq!(validate.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error: key result E-KR2: connection `jira`: no field named `Velocity`"),
        "{out}"
    );
    assert!(out.contains("error: key result E-KR3: connection `jira`: JQL `project = NOPE!`: Error in the JQL Query"), "{out}");
    assert!(!out.contains("E-KR1"), "{out}");
    assert_eq!(fake.server.rec.count("GET /rest/api/3/search/jql"), 0);
    assert_eq!(fake.server.rec.count("POST /rest/api/3/jql/parse"), 1);

    // preview: the value and the issues it came from.
    let preview = okrflow(&["preview", job, "--kr", "E-KR1"], &site).await;
    let out = String::from_utf8_lossy(&preview.stdout).to_string();
    assert_eq!(preview.status.code(), Some(0), "{out}");
    assert!(
        out.contains("| AE-1  | true  |") && out.contains("| AE-10 | false |"),
        "{out}"
    );
    assert!(out.contains("value: 30"), "{out}");

    // A run at the most verbose level, and one with a refused token: neither the token nor
    // the Basic credentials appear in any output or written file.
    let run = okrflow(
        &[
            "-vv",
            "--log-format",
            "json",
            "run",
            job,
            "--as-of",
            "2026-04-30",
        ],
        &site,
    )
    .await;
    assert_eq!(
        run.status.code(),
        Some(4),
        "two key results fail, one of them a JQL Jira rejects (exit 4): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut refused_site = site.clone();
    refused_site.token = "not-the-token-4471".into();
    let refused = okrflow(&["-vv", "run", job, "--as-of", "2026-04-30"], &refused_site).await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("HTTP 401"));
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", site.email, site.token),
    );
    let secrets = [site.token.as_str(), "not-the-token-4471", basic.as_str()];
    let seen = fake.server.rec.seen.lock().unwrap().join("\n");
    assert!(seen.contains(&basic), "the credentials were sent");
    let mut texts = vec![
        String::from_utf8_lossy(&validate.stdout).to_string(),
        String::from_utf8_lossy(&validate.stderr).to_string(),
        String::from_utf8_lossy(&preview.stderr).to_string(),
        String::from_utf8_lossy(&run.stdout).to_string(),
        String::from_utf8_lossy(&run.stderr).to_string(),
        String::from_utf8_lossy(&refused.stdout).to_string(),
        String::from_utf8_lossy(&refused.stderr).to_string(),
    ];
    for p in common::walk(&dir.path().join("out")) {
        texts.push(String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string());
    }
    assert!(texts.len() > 10, "the run wrote its files and archive");
    for t in &texts {
        for s in secrets {
            assert!(!t.contains(s), "a secret leaked");
        }
    }
}

/// `preview --as-of` a past day lists the issues as the reconstruction counted them that
/// day: those created by then, done only if they had entered `done` by then — not today's
/// status beside the past value.
#[tokio::test]
async fn a_preview_of_a_past_day_shows_the_issues_as_counted_that_day() {
    let d = |m: u32, day: u32| chrono::NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    let mut site = Site::new(Deployment::Cloud);
    let jql = "parent = AE-900";
    for (key, category, created, done) in [
        ("X-1", "done", d(2, 2), Some(d(3, 1))),
        ("X-2", "done", d(2, 2), Some(d(4, 10))),
        ("X-3", "new", d(2, 3), None),
        ("X-4", "done", d(4, 5), Some(d(4, 6))),
    ] {
        let i = common::jira::dated(issue(key, category, [None; 3], None, None), created, done);
        site.add(i, &[jql]);
    }
    let fake = FakeJira::start(site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let job = job_file(
        dir.path(),
        &fake.url(),
        &kr_toml("E-KR1", PC, &format!("jql = \"{jql}\"")),
    );
    let job = job.to_str().unwrap();
    let preview = okrflow(
        &["preview", job, "--kr", "E-KR1", "--as-of", "2026-03-15"],
        &site,
    )
    .await;
    let out = String::from_utf8_lossy(&preview.stdout).to_string();
    assert_eq!(preview.status.code(), Some(0), "{out}");
    // 1 of the 3 issues created by 15 March was done then: X-2 was done on 10 April, X-4
    // did not exist yet
    assert!(out.contains("value: 33.3"), "{out}");
    assert!(out.contains("| X-1 | true  |"), "{out}");
    assert!(out.contains("| X-2 | false |"), "{out}");
    assert!(out.contains("| X-3 | false |"), "{out}");
    assert!(!out.contains("X-4"), "{out}");
}

/// A `base_url` with a query string or user info is refused when the job is validated,
/// naming the connection and never the secret it carries.
#[tokio::test]
async fn a_base_url_with_a_query_or_user_info_is_refused() {
    let site = Site::new(Deployment::Cloud);
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "https://acme.atlassian.net/?api_key=s3cr3t-k3y",
        "https://me:s3cr3t-k3y@acme.atlassian.net",
    ] {
        let job = job_file(dir.path(), url, &kr_toml("E-KR1", PC, "jql = \"x = 1\""));
        let validate = okrflow(&["validate", job.to_str().unwrap()], &site).await;
        let out = String::from_utf8_lossy(&validate.stdout).to_string();
        assert_eq!(validate.status.code(), Some(1), "{out}");
        assert!(
            out.contains("error: connection jira: base_url must not carry"),
            "{out}"
        );
        assert!(!out.contains("s3cr3t"), "{out}");
    }
}

#[tokio::test]
async fn a_boards_estimation_field_comes_before_the_story_points_types() {
    let mut s = site(Deployment::DataCenter);
    // This site's board estimates in "Revenue impact" (a float field, not a story-points type).
    s.boards.insert(12, json!({"id": 12, "name": "AE board", "estimation": {"type": "field", "field": {"fieldId": "customfield_10050", "displayName": "Revenue impact"}}}));
    let fake = FakeJira::start(s).await;
    let krs = [(
        "points",
        KPI,
        "jql = 'parent = AE-786', metric = 'story_points'",
    )];
    let v = values(&plan(&fake, "JR_BOARD", "board_id = 12", &krs)).await;
    close(ok(&v, "points"), 150.0);
    assert_eq!(
        fake.server
            .rec
            .count("GET /rest/agile/1.0/board/12/configuration"),
        1
    );
    // Without the board, the jsw-story-points field is found: 3 + 5 + 2 points done.
    let v = values(&plan(&fake, "JR_NOBOARD", "", &krs)).await;
    close(ok(&v, "points"), 10.0);
}
