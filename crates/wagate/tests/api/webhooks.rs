//! Webhooks on the FakeEngine: deliveries of the event log to a local receiver, each
//! signature checked by a second HMAC implementation (ring's); a receiver down for a
//! day on the manual clock gets its first delivery within a minute of coming back and
//! everything in order, with every attempt in the delivery log page by page; header
//! values that reach the receiver and nothing else; the address guard at creation;
//! bad requests that change nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wagate_core::clock::ManualClock;

use crate::clock::{app_on_with, run_until};
use crate::helpers::{TestApp, assert_problem, eventually, phone, spawn_app_with};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Delivery {
    headers: HeaderMap,
    body: String,
}

/// A local webhook receiver that answers 503 while `down`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    if me.down.load(Ordering::SeqCst) {
                        return AxumStatus::SERVICE_UNAVAILABLE;
                    }
                    me.got.lock().unwrap().push(Delivery { headers, body });
                    AxumStatus::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn got(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Checks both signatures of a delivery with ring's HMAC, as a receiver would.
fn verify(secret: &str, delivery: &Delivery) -> Value {
    let header =
        |name: &str| delivery.headers.get(name).unwrap_or_else(|| panic!("{name}")).to_str().unwrap().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let key_bytes = BASE64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let signed = format!("{id}.{timestamp}.{}", delivery.body);
    let expected = format!("v1,{}", BASE64.encode(ring::hmac::sign(&key, signed.as_bytes()).as_ref()));
    assert!(header("webhook-signature").split(' ').any(|s| s == expected), "webhook-signature of {id}");
    let legacy = format!("sha256={}", hex::encode(ring::hmac::sign(&key, delivery.body.as_bytes()).as_ref()));
    assert_eq!(header("x-webhook-signature"), legacy, "x-webhook-signature of {id}");
    let event: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(id, format!("evt_{}", event["id"]), "the webhook-id names the event");
    assert_eq!(header("x-shop"), "demo", "custom headers go along");
    event
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.post("/api/v1/webhooks", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn local(config: &mut wagate::Config) {
    config.webhooks.allow_networks = vec!["127.0.0.1/32".into()];
}

#[tokio::test]
async fn events_arrive_in_order_signed_with_the_secret_shown_once() {
    let app = spawn_app_with(local).await;
    app.connected_session("default").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hook = create(&app, json!({ "url": url, "events": ["message.*"], "headers": { "X-Shop": "demo" } })).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = hook["id"].as_str().unwrap();
    let shown: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");

    for n in 0..5 {
        app.engine.incoming_text("default", &phone("+9611234567"), &format!("Hello {n}")).await.unwrap();
    }
    let got = eventually("five deliveries", || async { (receiver.got().len() >= 5).then(|| receiver.got()) }).await;
    let events: Vec<Value> = got.iter().map(|d| verify(&secret, d)).collect();
    let texts: Vec<&str> = events.iter().map(|e| e["data"]["message"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Hello 0", "Hello 1", "Hello 2", "Hello 3", "Hello 4"]);
    assert!(events.iter().all(|e| e["type"] == "message.received" && e["session"] == "default"));

    // Deliveries are recorded together, within a quarter of a second.
    let log = eventually("the delivery log", || async {
        let log: Value = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.json().await.unwrap();
        (log["data"].as_array().unwrap().len() == 5).then_some(log)
    })
    .await;
    assert!(log["data"].as_array().unwrap().iter().all(|a| a["status_code"] == 204 && a["attempt"] == 1), "{log}");

    // Replayed from the second event: the same ids again, in order.
    let from = events[1]["id"].as_u64().unwrap();
    let replay = app.post(&format!("/api/v1/webhooks/{id}/replay"), json!({ "from_event_id": from })).await;
    assert_eq!(replay.status(), StatusCode::OK);
    let again = eventually("replayed", || async { (receiver.got().len() >= 9).then(|| receiver.got()) }).await;
    let ids: Vec<u64> = again[5..].iter().map(|d| verify(&secret, d)["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, events[1..].iter().map(|e| e["id"].as_u64().unwrap()).collect::<Vec<_>>());
}

/// Every attempt in the endpoint's delivery log, newest first, read page by page.
async fn whole_delivery_log(app: &TestApp, id: &str, limit: u32) -> Vec<Value> {
    let mut attempts = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("/api/v1/webhooks/{id}/deliveries?limit={limit}{cursor}")).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page: Value = page.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit as usize);
        attempts.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    attempts
}

fn at(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

#[tokio::test]
async fn a_receiver_back_after_a_day_down_gets_the_first_event_within_a_minute_and_all_in_order() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on_with(&clock, local).await;
    let receiver = Receiver::default();
    receiver.down.store(true, Ordering::SeqCst);
    let url = receiver.start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let hook = create(
        &app,
        json!({ "url": url, "secret": secret, "events": ["message.received"], "headers": { "X-Shop": "demo" } }),
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_owned();
    for n in 0..20 {
        let from = if n % 2 == 0 { "+9611234567" } else { "+9611234568" };
        app.engine.incoming_text("default", &phone(from), &format!("Message {n}")).await.unwrap();
    }
    // Nothing else sleeps on the clock: the session's dispatcher waits for a connection.
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    run_until(&clock, start + Duration::from_secs(24 * 3600)).await;
    let down: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
    assert!(down["failed_attempts"].as_u64().unwrap() >= 1400, "tried at least once a minute all day: {down}");
    assert!(down["failing_since"].is_string() && down["enabled"] == true, "{down}");
    assert!(receiver.got().is_empty());

    receiver.down.store(false, Ordering::SeqCst);
    let back = clock.now();
    run_until(&clock, back + Duration::from_secs(60)).await;
    // The clock stands at most a minute after the receiver came back.
    let first = eventually("the first delivery", || async { receiver.got().first().cloned() }).await;
    let stamp: i64 = first.headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    assert!(stamp <= (back + Duration::from_secs(60)).unix_timestamp(), "sent within a minute of coming back");
    let got = eventually("every event", || async { (receiver.got().len() >= 20).then(|| receiver.got()) }).await;
    assert_eq!(got.len(), 20, "each once");
    let events: Vec<Value> = got.iter().map(|d| verify(secret, d)).collect();
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "in order, none missing: {ids:?}");
    let texts: Vec<String> = events.iter().map(|e| e["data"]["message"]["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, (0..20).map(|n| format!("Message {n}")).collect::<Vec<_>>());
    let up: Value = eventually("the deliveries recorded", || async {
        let up: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
        (up["last_event_id"] == ids[19]).then_some(up)
    })
    .await;
    assert_eq!((up["failed_attempts"].as_u64(), up["failing_since"].as_str()), (Some(0), None), "{up}");

    // The whole log, read by cursor: every attempt once, newest first; the failures a
    // minute apart at most, all at the first event, numbered on.
    let log = whole_delivery_log(&app, &id, 200).await;
    let failures: Vec<&Value> = log.iter().filter(|a| a["status_code"] == 503).collect();
    assert_eq!(log.len(), failures.len() + 20, "the failures and the 20 deliveries");
    let counted = down["failed_attempts"].as_u64().unwrap();
    // (One more when an attempt was on its way as the day ended.)
    assert!(
        (counted..=counted + 1).contains(&(failures.len() as u64)),
        "{} failures, {counted} counted",
        failures.len()
    );
    assert!(log.windows(2).all(|w| at(&w[0]["at"]) >= at(&w[1]["at"])), "newest first");
    let tried: Vec<u64> = failures.iter().rev().map(|a| a["attempt"].as_u64().unwrap()).collect();
    assert_eq!(tried, (1..=tried.len() as u64).collect::<Vec<_>>(), "each attempt once, none skipped");
    assert!(failures.iter().all(|a| a["event_id"] == ids[0]), "deliveries stay in order");
    let times: Vec<OffsetDateTime> = failures.iter().rev().map(|a| at(&a["at"])).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] <= Duration::from_secs(60)), "at most a minute apart");
    assert!(log[..20].iter().all(|a| a["status_code"] == 204 && a["error"].is_null()));
}

#[tokio::test]
async fn urls_at_private_addresses_or_unknown_hosts_are_refused_when_given_unless_allowed() {
    let app = spawn_app_with(local).await;
    let before = app.snapshot().await;
    for (url, why) in [
        ("http://127.0.0.2:9/hook", "127.0.0.2 is a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://[::ffff:192.168.0.1]/hook", "is a private address"),
        ("http://[::1]:8080/hook", "::1 is a loopback address"),
        ("https://nosuch.invalid/hook", "cannot resolve nosuch.invalid"),
    ] {
        let response = app.post("/api/v1/webhooks", json!({ "url": url })).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{url}: {message}");
        assert!(!problem.to_string().contains("media"), "told as a webhook: {problem}");
    }
    assert_eq!(app.snapshot().await, before, "nothing stored");

    // The allow-list lets 127.0.0.1 in (as the other tests' receivers), and no more.
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hook = create(&app, json!({ "url": url })).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    for url in ["http://127.0.0.2:9/hook", "https://nosuch.invalid/hook"] {
        let change = app.request(Method::PATCH, &path).json(&json!({ "url": url })).send().await.unwrap();
        let problem = assert_problem(change, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{problem}");
    }
    let kept: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!((&kept["url"], &kept["updated_at"]), (&hook["url"], &hook["updated_at"]), "unchanged");
    let moved = url.replace("/hook", "/other");
    let change = app.request(Method::PATCH, &path).json(&json!({ "url": moved })).send().await.unwrap();
    assert_eq!(change.status(), StatusCode::OK);
    assert_eq!(change.json::<Value>().await.unwrap()["url"], moved.as_str());
}

/// What the server logs on the test's thread (a `#[tokio::test]` runs the server's
/// tasks there), at every level.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Every text cell of the database that contains `needle`, as `table.column`.
async fn cells_containing(app: &TestApp, needle: &str) -> Vec<String> {
    let mut conn = sqlx::AnyConnection::connect(&app.database_url).await.expect("connect");
    let columns = if app.database_url.starts_with("sqlite:") {
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND p.type = 'TEXT'"
    } else {
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'text'"
    };
    let columns: Vec<(String, String)> = sqlx::query(columns)
        .fetch_all(&mut conn)
        .await
        .expect("the text columns")
        .iter()
        .map(|row| (row.get("t"), row.get("c")))
        .collect();
    assert!(columns.len() > 20, "found the columns: {columns:?}");
    let mut found = Vec::new();
    for (table, column) in columns {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} LIKE $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(format!("%{needle}%")).fetch_one(&mut conn).await;
        if row.expect("a count").get::<i64, _>("n") > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[tokio::test]
async fn a_header_value_reaches_the_receiver_and_no_answer_event_log_line_or_other_row() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(log.clone())
        .finish();
    let _capture = tracing::subscriber::set_default(subscriber);
    let app = spawn_app_with(local).await;
    app.connected_session("default").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let token = "Bearer 7c1d0e9a-unguessable-token";
    let secret_part = "unguessable";

    let response = app.post("/api/v1/webhooks", json!({ "url": url, "headers": { "Authorization": token } })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["headers"], json!({ "Authorization": "********" }), "redacted from the first answer on");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/webhooks/{id}");

    app.engine.incoming_text("default", &phone("+9611234567"), "Hi").await.unwrap();
    let first = eventually("a delivery", || async { receiver.got().first().cloned() }).await;
    assert_eq!(first.headers["authorization"], token, "the receiver gets the real value");

    // A failure is logged (at warn, with its reason) without it.
    receiver.down.store(true, Ordering::SeqCst);
    app.engine.incoming_text("default", &phone("+9611234567"), "Are you there?").await.unwrap();
    eventually("a failure logged", || async { log.text().contains("a webhook delivery failed").then_some(()) }).await;
    receiver.down.store(false, Ordering::SeqCst);

    // Another header changes; the value not named is kept without being sent again.
    let body = json!({ "headers": { "X-Shop": "demo" }, "description": "orders" });
    let changed = app.request(Method::PATCH, &path).json(&body).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let changed = changed.text().await.unwrap();
    let shown: Value = serde_json::from_str(&changed).unwrap();
    assert_eq!(shown["headers"], json!({ "Authorization": "********", "X-Shop": "********" }));
    let retried = eventually("the retry delivered", || async { receiver.got().get(1).cloned() }).await;
    assert_eq!(retried.headers["authorization"], token, "kept");
    assert_eq!(retried.headers["x-shop"], "demo");

    let answers = [
        created.to_string(),
        changed,
        app.get(&path).await.text().await.unwrap(),
        app.get("/api/v1/webhooks").await.text().await.unwrap(),
        app.get(&format!("{path}/deliveries")).await.text().await.unwrap(),
        app.get("/api/v1/events?limit=1000").await.text().await.unwrap(),
    ];
    for answer in &answers {
        assert!(!answer.contains(secret_part), "{answer}");
    }
    let log = log.text();
    assert!(log.contains(&id) && log.contains("WARN"), "the failure was captured at warn: {log}");
    assert!(log.contains("the receiver answered 503"), "with its reason");
    assert!(!log.contains(secret_part), "in no log line at any level");
    // Stored once, where deliveries read it: no event, audit trail or other row has it.
    assert_eq!(cells_containing(&app, secret_part).await, ["webhooks.headers"]);
}

#[tokio::test]
async fn bad_webhook_requests_are_refused_and_change_nothing() {
    let app = spawn_app_with(local).await;
    app.connected_session("default").await;
    let before = app.snapshot().await;
    let url = "http://127.0.0.1:9/hook";
    let many: serde_json::Map<String, Value> = (0..21).map(|n| (format!("X-H{n}"), json!("v"))).collect();
    for body in [
        json!({ "url": "ftp://example.com/hook" }),
        json!({ "url": "not a url" }),
        json!({ "url": url, "events": ["message.exploded"] }),
        json!({ "url": url, "events": [] }),
        json!({ "url": url, "secret": "short" }),
        json!({ "url": url, "headers": { "webhook-id": "mine" } }),
        json!({ "url": url, "headers": { "bad header": "x" } }),
        json!({ "url": url, "headers": { "X-Token": "a", "x-token": "b" } }),
        json!({ "url": url, "headers": { "Authorization": "********" } }),
        json!({ "url": url, "headers": many }),
        json!({ "url": url, "colour": "blue" }),
    ] {
        let response = app.post("/api/v1/webhooks", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let unknown = app.post("/api/v1/webhooks", json!({ "url": url, "session": "nosuch" })).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.snapshot().await, before, "nothing stored");

    let hook = create(&app, json!({ "url": url, "headers": { "Authorization": "Bearer x" } })).await;
    let id = hook["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/{id}");
    let before = app.snapshot().await;
    for body in [
        json!({ "events": ["nope"] }),
        json!({ "headers": { "Authorization": "********" } }),
        json!({ "headers": { "Host": null } }),
        json!({ "headers": many }),
    ] {
        let bad = app.request(Method::PATCH, &path).json(&body).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let twenty: serde_json::Map<String, Value> = (0..20).map(|n| (format!("X-H{n}"), json!("v"))).collect();
    let over = app.request(Method::PATCH, &path).json(&json!({ "headers": twenty })).send().await.unwrap();
    let problem = assert_problem(over, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(problem["detail"].as_str().unwrap().contains("at most 20"), "20 and the one kept: {problem}");
    for query in ["limit=0", "limit=1001", "cursor=not*base64", "cursor=bm90LWEtdXVpZA"] {
        let log = app.get(&format!("{path}/deliveries?{query}")).await;
        assert_problem(log, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    for query in ["limit=0", "cursor=bm90LWEtbnVtYmVy"] {
        let dead = app.get(&format!("{path}/dead-letters?{query}")).await;
        assert_problem(dead, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");

    let off = app.request(Method::PATCH, &path).json(&json!({ "enabled": false })).send().await.unwrap();
    let off: Value = off.json().await.unwrap();
    assert_eq!((off["enabled"].as_bool(), off["events"].clone()), (Some(false), json!(["*"])));
    assert_eq!(app.request(Method::DELETE, &path).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
}
