//! A database that stops taking writes (a full disk on SQLite, a read-only server on
//! Postgres): refusals say so with a stable code, nothing accepted is lost, and
//! accepting, sending and receipts come back by themselves once the fault is gone.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use wagate_store::{Backend, testing::postgres_server};
use wagate_types::ReceiptKind;

use crate::helpers::{TestApp, assert_problem, eventually, spawn_app, within};

/// Makes the database refuse writes: SQLite's file may not grow any more; Postgres
/// turns the database read-only for every connection.
async fn take_away_space(app: &TestApp) {
    match app.gateway.store.backend() {
        Backend::Sqlite => app.gateway.store.limit_size(Some(0)).await.expect("limit the database size"),
        Backend::Postgres => postgres_read_only(app, true).await,
    }
}

async fn give_back_space(app: &TestApp) {
    match app.gateway.store.backend() {
        Backend::Sqlite => app.gateway.store.limit_size(None).await.expect("lift the limit"),
        Backend::Postgres => postgres_read_only(app, false).await,
    }
}

/// `default_transaction_read_only` for the test's database, then the server's
/// connections to it are ended so that the pool's new ones take the setting.
async fn postgres_read_only(app: &TestApp, on: bool) {
    let server = postgres_server().expect("a Postgres test has a server");
    let name = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let mut admin = PgConnection::connect(&server).await.unwrap();
    let setting = if on { "on" } else { "off" };
    sqlx::raw_sql(AssertSqlSafe(format!("ALTER DATABASE {name} SET default_transaction_read_only = {setting}")))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}

fn expected_refusal(app: &TestApp) -> (StatusCode, &'static str) {
    match app.gateway.store.backend() {
        Backend::Sqlite => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
        Backend::Postgres => (StatusCode::SERVICE_UNAVAILABLE, "storage_read_only"),
    }
}

#[tokio::test]
async fn a_database_that_takes_no_writes_refuses_sends_clearly_loses_nothing_and_heals_without_a_restart() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let mut accepted: Vec<Value> = Vec::new();
    for n in 0..20 {
        accepted.push(app.send_text("default", "+4915123456789", &format!("before {n}")).await);
    }
    let first = accepted[0]["id"].as_str().unwrap().to_owned();
    app.wait_for_message(&first, "sent").await;

    take_away_space(&app).await;
    let (status, code) = expected_refusal(&app);
    let health = within(std::time::Duration::from_secs(20), "the health check sees the fault", || async {
        let health = app.anonymous(reqwest::Method::GET, "/api/v1/health").send().await.unwrap();
        (health.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(health)
    })
    .await;
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["storage"], code, "{health}");
    // Sends go on until the database refuses one (SQLite may still reuse a few free
    // pages); every 202 before that is a promise kept below.
    let mut refusal = None;
    for n in 0..5_000 {
        let body = json!({ "session": "default", "to": "+4915123456789", "text": format!("during {n}") });
        let response = app.post("/api/v1/messages", body).await;
        if response.status() == StatusCode::ACCEPTED {
            accepted.push(response.json().await.unwrap());
            continue;
        }
        refusal = Some(response);
        break;
    }
    let refusal = refusal.expect("the database refused a write");
    let retry_after = refusal.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    assert_problem(refusal, status, code).await;
    assert!(retry_after.is_some(), "a storage refusal says when to try again");
    // Every refusal from now on is the same, never a 500.
    for n in 0..5 {
        let body = json!({ "session": "default", "to": "+4915123456789", "text": format!("refused {n}") });
        assert_problem(app.post("/api/v1/messages", body).await, status, code).await;
    }
    // A receipt that comes meanwhile is stored if the database can take it (an update
    // in place may still fit in a full SQLite file) and tried again by a real engine if not.
    app.engine.receipt("default", accepted[0]["wa_id"].as_str().unwrap(), ReceiptKind::Read).await;

    give_back_space(&app).await;
    within(std::time::Duration::from_secs(20), "health is ok again", || async {
        let health = app.anonymous(reqwest::Method::GET, "/api/v1/health").send().await.unwrap();
        (health.status() == StatusCode::OK).then_some(())
    })
    .await;
    for n in 0..5 {
        accepted.push(app.send_text("default", "+4915123456789", &format!("after {n}")).await);
    }
    // Everything accepted goes out, once each, without a restart.
    within(std::time::Duration::from_secs(60), "every accepted message is sent", || async {
        (app.engine.sent().len() >= accepted.len()).then_some(())
    })
    .await;
    let sent: Vec<String> = app.engine.sent().into_iter().map(|s| s.wa_id).collect();
    let unique: HashSet<&String> = sent.iter().collect();
    assert_eq!(unique.len(), sent.len(), "no message went out twice");
    for message in &accepted {
        assert!(sent.iter().any(|w| w == message["wa_id"].as_str().unwrap()), "{message} was lost");
        let id = message["id"].as_str().unwrap();
        within(std::time::Duration::from_secs(30), &format!("message {id} is recorded sent"), || async {
            let status = app.message(id).await["status"].clone();
            (status == "sent" || status == "read").then_some(())
        })
        .await;
    }
    // Receipts are stored again.
    let last = accepted.last().unwrap();
    app.engine.receipt("default", last["wa_id"].as_str().unwrap(), ReceiptKind::Read).await;
    eventually("a receipt after the fault is stored", || async {
        let message = app.message(last["id"].as_str().unwrap()).await;
        (message["status"] == "read").then_some(())
    })
    .await;
}
