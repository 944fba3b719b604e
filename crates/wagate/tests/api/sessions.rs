use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, phone, spawn_app};

#[tokio::test]
async fn a_new_session_shows_a_qr_code_until_a_phone_scans_it() {
    let app = spawn_app().await;
    let response = app.post("/api/v1/sessions", json!({ "name": "support" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/v1/sessions/support");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["status"], "qr_ready");
    assert_eq!(session["settings"]["throttle"]["min_delay_ms"], 0);

    let qr: Value = app.get("/api/v1/sessions/support/qr").await.json().await.unwrap();
    assert!(qr["qr"].as_str().unwrap().starts_with("2@"));
    assert!(qr["expires_at"].is_string());
    let png = app.get("/api/v1/sessions/support/qr.png").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let svg = app.get("/api/v1/sessions/support/qr.svg").await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    app.engine.scan("support", &phone("+961 3 123 456")).await;
    let session = app.wait_for_session("support", "connected").await;
    assert_eq!(session["phone"], "+9613123456");
    assert_eq!(session["push_name"], "Fake Phone");
    assert!(session["last_seen_at"].is_string());
    assert_problem(app.get("/api/v1/sessions/support/qr").await, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn sessions_are_listed_by_name_and_names_are_unique() {
    let app = spawn_app().await;
    app.create_session("zeta").await;
    app.create_session("alpha").await;
    let before = app.snapshot().await;
    assert_problem(app.post("/api/v1/sessions", json!({ "name": "alpha" })).await, StatusCode::CONFLICT, "conflict")
        .await;
    assert_eq!(app.snapshot().await, before);
    let list: Vec<Value> = app.get("/api/v1/sessions").await.json().await.unwrap();
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
}

#[tokio::test]
async fn bad_session_requests_change_nothing() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let before = app.snapshot().await;
    for (body, code) in [
        (json!({ "name": "Has Spaces" }), "invalid_field"),
        (json!({ "name": "" }), "invalid_field"),
        (json!({ "name": 42 }), "invalid_field"),
        (json!({ "name": "ok", "colour": "red" }), "invalid_body"),
        (
            json!({ "name": "ok", "settings": { "throttle": { "min_delay_ms": 5, "max_delay_ms": 1 } } }),
            "invalid_field",
        ),
        (
            json!({ "name": "ok", "settings": { "throttle": { "min_delay_ms": 0, "max_delay_ms": 99999999 } } }),
            "invalid_field",
        ),
    ] {
        let response = app.post("/api/v1/sessions", body.clone()).await;
        let status = response.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["code"] == code || problem["code"] == "invalid_field", "{body} → {problem}");
    }
    let patch = app
        .request(Method::PATCH, "/api/v1/sessions/default")
        .json(&json!({ "settings": { "throttle": { "min_delay_ms": 10, "max_delay_ms": 1 } } }))
        .send()
        .await
        .unwrap();
    assert_problem(patch, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_problem(app.get("/api/v1/sessions/nobody").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/sessions/NOT%20VALID").await, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app.request(Method::DELETE, "/api/v1/sessions/nobody").send().await.unwrap();
    assert_problem(delete, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn settings_change_with_patch() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let response = app
        .request(Method::PATCH, "/api/v1/sessions/default")
        .json(&json!({ "settings": { "throttle": { "min_delay_ms": 1000, "max_delay_ms": 3000 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = app.get("/api/v1/sessions/default").await.json().await.unwrap();
    assert_eq!(session["settings"]["throttle"], json!({ "min_delay_ms": 1000, "max_delay_ms": 3000 }));
}

#[tokio::test]
async fn pair_code_links_without_a_qr() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let response = app.post("/api/v1/sessions/default/pair-code", json!({ "phone": "+49 151 23456789" })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let code: Value = response.json().await.unwrap();
    assert_eq!(code["code"].as_str().unwrap().len(), 8);
    let bad = app.post("/api/v1/sessions/default/pair-code", json!({ "phone": "12" })).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

#[tokio::test]
async fn restart_shows_a_new_qr_and_logout_unlinks() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let first: Value = app.get("/api/v1/sessions/default/qr").await.json().await.unwrap();
    let restarted: Value = app.post("/api/v1/sessions/default/restart", json!({})).await.json().await.unwrap();
    assert_eq!(restarted["status"], "qr_ready");
    let second: Value = app.get("/api/v1/sessions/default/qr").await.json().await.unwrap();
    assert_ne!(first["qr"], second["qr"], "a restart makes a new QR code");

    app.engine.scan("default", &phone("+4915123456789")).await;
    app.wait_for_session("default", "connected").await;
    let logged_out: Value = app.post("/api/v1/sessions/default/logout", json!({})).await.json().await.unwrap();
    assert_eq!(logged_out["status"], "logged_out");
    assert_problem(app.get("/api/v1/sessions/default/qr").await, StatusCode::CONFLICT, "conflict").await;
    // A restart after logout starts pairing again.
    let again: Value = app.post("/api/v1/sessions/default/restart", json!({})).await.json().await.unwrap();
    assert_eq!(again["status"], "qr_ready");
}

#[tokio::test]
async fn the_phone_unlinking_the_device_logs_the_session_out() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.unlink("default").await;
    let session = app.wait_for_session("default", "logged_out").await;
    assert!(session["status_reason"].as_str().unwrap().contains("removed"));
}

#[tokio::test]
async fn waiting_messages_say_the_session_was_logged_out_and_stay_queued() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    let message = app.send_text("default", "+4915123456789", "after the drop").await;
    app.engine.unlink("default").await;
    app.wait_for_session("default", "logged_out").await;
    let id = message["id"].as_str().unwrap();
    let waiting = crate::helpers::eventually("the message says why it waits", || async {
        let m = app.message(id).await;
        (m["error_code"] == "logged_out").then_some(m)
    })
    .await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert!(waiting["error"].as_str().unwrap().contains("logged_out"), "{waiting}");
}

#[tokio::test]
async fn deleting_a_session_deletes_its_messages() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let message = app.send_text("default", "+4915123456789", "never sent").await;
    let response = app.request(Method::DELETE, "/api/v1/sessions/default").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/api/v1/sessions/default").await, StatusCode::NOT_FOUND, "not_found").await;
    let id = message["id"].as_str().unwrap();
    assert_problem(app.get(&format!("/api/v1/messages/{id}")).await, StatusCode::NOT_FOUND, "not_found").await;
    // The name is free again.
    app.create_session("default").await;
}

#[tokio::test]
async fn sessions_start_again_when_the_server_restarts() {
    let mut app = spawn_app().await;
    app.connected_session("linked").await;
    app.create_session("waiting").await;
    app.restart().await;
    app.wait_for_session("linked", "connected").await;
    app.wait_for_session("waiting", "qr_ready").await;
}

/// Sends a text and checks that the 202 answer, the message and the queue all say why
/// it waits.
async fn accepted_waiting_because(app: &crate::helpers::TestApp, code: &str) {
    let accepted = app.send_text("default", "+4915123456789", "while it cannot go").await;
    assert_eq!(accepted["status"], "queued", "{accepted}");
    assert_eq!(accepted["error_code"], code, "the 202 answer says why: {accepted}");
    let id = accepted["id"].as_str().unwrap();
    let message = app.message(id).await;
    assert_eq!(message["error_code"], code, "{message}");
    assert!(message["error"].as_str().unwrap().starts_with("waiting: "), "{message}");
    let queue: serde_json::Value = app.get("/api/v1/sessions/default/queue").await.json().await.unwrap();
    let listed = queue["messages"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap();
    assert_eq!(listed["error_code"], code, "{queue}");
}

#[tokio::test]
async fn a_message_accepted_while_the_session_is_logged_out_says_so() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.unlink("default").await;
    app.wait_for_session("default", "logged_out").await;
    accepted_waiting_because(&app, "logged_out").await;
}

#[tokio::test]
async fn a_message_accepted_while_the_session_is_banned_says_so() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let until = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let banned = wagate_engine::EngineEvent::Banned { until, reason: "sent to too many people".into() };
    app.engine.event("default", banned).await;
    app.wait_for_session("default", "banned").await;
    accepted_waiting_because(&app, "banned").await;
}

#[tokio::test]
async fn a_message_accepted_while_the_session_is_disconnected_says_so_until_it_goes() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    accepted_waiting_because(&app, "not_connected").await;
    let waiting: serde_json::Value = app.get("/api/v1/messages?session=default").await.json().await.unwrap();
    let id = waiting["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(waiting["data"][0]["error_code"], "not_connected", "lists say it too: {waiting}");

    app.engine.restore_connection("default").await;
    let sent = app.wait_for_message(&id, "sent").await;
    assert!(sent["error_code"].is_null() && sent["error"].is_null(), "the reason goes with the wait: {sent}");
}

#[tokio::test]
async fn the_api_answers_while_sessions_are_still_starting_after_a_restart() {
    let mut app = spawn_app().await;
    app.connected_session("default").await;
    app.create_session("second").await;
    // Each session now takes five seconds to reach WhatsApp.
    app.engine.set_start_delay(std::time::Duration::from_secs(5));
    let started = std::time::Instant::now();
    app.restart().await;

    let health = app.anonymous(Method::GET, "/api/v1/health").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let sessions: Value = app.get("/api/v1/sessions").await.json().await.unwrap();
    let statuses: Vec<&str> = sessions.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["starting", "starting"], "sessions show starting until they connect: {sessions}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the API did not wait for the sessions");
    // Sends are taken meanwhile and go once the session is connected.
    let accepted = app.send_text("default", "+4915123456789", "while starting").await;
    app.wait_for_session("default", "connected").await;
    app.wait_for_message(accepted["id"].as_str().unwrap(), "sent").await;
    app.wait_for_session("second", "qr_ready").await;
}
