use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wagate_types::ReceiptKind;

use crate::helpers::{assert_problem, eventually, phone, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_text_is_accepted_queued_and_sent_with_its_stored_whatsapp_id() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let response = app.post("/api/v1/messages", json!({ "to": "+961 1 234 567", "text": "Hi" })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/messages/{}", accepted["id"].as_str().unwrap()));
    assert_eq!(accepted["session"], "default");
    assert_eq!(accepted["to"], "+9611234567");
    assert_eq!(accepted["chat"], "9611234567@s.whatsapp.net");
    assert_eq!(accepted["direction"], "outbound");
    assert!(accepted["status"] == "queued" || accepted["status"] == "sending" || accepted["status"] == "sent");

    let sent = app.wait_for_message(accepted["id"].as_str().unwrap(), "sent").await;
    assert!(sent["sent_at"].is_string() && sent["queued_at"].is_string());
    assert_eq!(sent["attempts"], 1);
    let wire = app.engine.sent();
    assert_eq!(wire.len(), 1);
    assert_eq!(wire[0].wa_id, accepted["wa_id"].as_str().unwrap());
    assert_eq!(wire[0].to, "9611234567@s.whatsapp.net");
    assert_eq!(wire[0].text, "Hi");
}

#[tokio::test]
async fn messages_wait_while_the_session_is_not_connected() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let message = app.send_text("default", "+4915123456789", "later").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.message(message["id"].as_str().unwrap()).await["status"], "queued");
    assert!(app.engine.sent().is_empty());
    app.engine.scan("default", &crate::helpers::phone("+4915123456789")).await;
    app.wait_for_message(message["id"].as_str().unwrap(), "sent").await;
}

#[tokio::test]
async fn the_queue_goes_by_priority_then_age() {
    let app = spawn_app().await;
    app.create_session("default").await;
    for (text, priority) in [("low", "low"), ("normal-1", "normal"), ("high", "high"), ("normal-2", "normal")] {
        let body = json!({ "to": "+4915123456789", "text": text, "priority": priority });
        assert_eq!(app.post("/api/v1/messages", body).await.status(), StatusCode::ACCEPTED);
    }
    app.engine.scan("default", &crate::helpers::phone("+4915123456789")).await;
    eventually("all four are sent", || async { (app.engine.sent().len() == 4).then_some(()) }).await;
    let order: Vec<String> = app.engine.sent().into_iter().map(|s| s.text).collect();
    assert_eq!(order, ["high", "normal-1", "normal-2", "low"]);
}

#[tokio::test]
async fn a_scheduled_message_waits_for_its_time() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let at = OffsetDateTime::now_utc() + Duration::from_millis(1500);
    let body = json!({ "to": "+4915123456789", "text": "later", "send_at": at.format(&Rfc3339).unwrap() });
    let message: Value = app.post("/api/v1/messages", body).await.json().await.unwrap();
    assert_eq!(message["status"], "scheduled");
    assert!(app.engine.sent().is_empty(), "not before its time");
    let sent = app.wait_for_message(message["id"].as_str().unwrap(), "sent").await;
    let sent_at = OffsetDateTime::parse(sent["sent_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(sent_at >= at - Duration::from_millis(1), "sent at {sent_at}, due {at}");
}

#[tokio::test]
async fn a_scheduled_message_survives_a_restart_and_fires_within_a_second_of_its_time() {
    let mut app = spawn_app().await;
    app.connected_session("default").await;
    let at = OffsetDateTime::now_utc() + Duration::from_millis(2500);
    let body = json!({ "to": "+4915123456789", "text": "after the restart", "send_at": at.format(&Rfc3339).unwrap() });
    let message: Value = app.post("/api/v1/messages", body).await.json().await.unwrap();
    let id = message["id"].as_str().unwrap().to_owned();
    app.restart().await;
    assert_eq!(app.message(&id).await["status"], "scheduled", "kept across the restart");
    let sent = app.wait_for_message(&id, "sent").await;
    let sent_at = OffsetDateTime::parse(sent["sent_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(sent_at >= at - Duration::from_millis(1), "sent at {sent_at}, due {at}");
    assert!(sent_at - at < Duration::from_secs(1), "sent at {sent_at}, more than a second after {at}");
    assert_eq!(app.engine.sent().len(), 1);
}

#[tokio::test]
async fn sends_are_spaced_by_the_session_throttle() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let patch = json!({ "settings": { "throttle": { "min_delay_ms": 300, "max_delay_ms": 400 } } });
    app.request(Method::PATCH, "/api/v1/sessions/default").json(&patch).send().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.send_text("default", "+4915123456789", &format!("m{i}")).await["id"].as_str().unwrap().to_owned());
    }
    let mut times = Vec::new();
    for id in &ids {
        let sent = app.wait_for_message(id, "sent").await;
        times.push(OffsetDateTime::parse(sent["sent_at"].as_str().unwrap(), &Rfc3339).unwrap());
    }
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(300), "gap {:?}", pair[1] - pair[0]);
    }
}

#[tokio::test]
async fn temporary_failures_retry_and_then_succeed() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.fail_sends("default", 2);
    let message = app.send_text("default", "+4915123456789", "persistent").await;
    let sent = app.wait_for_message(message["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["attempts"], 3);
    assert_eq!(app.engine.sent().len(), 1);
}

#[tokio::test]
async fn a_message_fails_after_the_retry_limit_and_can_be_resent() {
    let app = spawn_app_with(|c| c.delivery.max_attempts = 3).await;
    app.connected_session("default").await;
    app.engine.fail_sends("default", 100);
    let message = app.send_text("default", "+4915123456789", "doomed").await;
    let id = message["id"].as_str().unwrap();
    let failed = app.wait_for_message(id, "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert!(failed["error"].as_str().unwrap().contains("gave up after 3 attempts"), "{failed}");
    assert_eq!(failed["error_code"], "timeout", "the last attempt's reason, as a code");
    assert!(failed["failed_at"].is_string());

    app.engine.fail_sends("default", 0);
    let response = app.post(&format!("/api/v1/messages/{id}/resend"), json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let sent = app.wait_for_message(id, "sent").await;
    assert_eq!(sent["wa_id"], message["wa_id"], "a resend keeps the WhatsApp id");
    assert!(sent["failed_at"].is_null() && sent["error"].is_null() && sent["error_code"].is_null());
}

#[tokio::test]
async fn a_permanent_failure_fails_at_once() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.fail_sends_permanently("default", true);
    let message = app.send_text("default", "+4915123456789", "refused").await;
    let failed = app.wait_for_message(message["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["attempts"], 1);
    assert!(failed["error"].as_str().unwrap().contains("refuses"));
    assert_eq!(failed["error_code"], "refused");
}

#[tokio::test]
async fn a_dropped_connection_pauses_the_queue_until_it_returns() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    let message = app.send_text("default", "+4915123456789", "patience").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.engine.sent().is_empty());
    app.engine.restore_connection("default").await;
    app.wait_for_message(message["id"].as_str().unwrap(), "sent").await;
}

#[tokio::test]
async fn receipts_move_the_status_forward_only() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let message = app.send_text("default", "+4915123456789", "hello").await;
    let id = message["id"].as_str().unwrap();
    app.wait_for_message(id, "sent").await;
    let wa_id = message["wa_id"].as_str().unwrap();
    app.engine.receipt("default", wa_id, ReceiptKind::Read).await;
    let read = app.wait_for_message(id, "read").await;
    assert!(read["read_at"].is_string());
    app.engine.receipt("default", wa_id, ReceiptKind::Delivered).await;
    // The late delivered receipt fills its time but does not move the status back.
    let after = eventually("delivered_at is set", || async {
        let m = app.message(id).await;
        m["delivered_at"].is_string().then_some(m)
    })
    .await;
    assert_eq!(after["status"], "read");
}

#[tokio::test]
async fn a_queued_message_can_be_cancelled_and_not_after() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let message = app.send_text("default", "+4915123456789", "changed my mind").await;
    let id = message["id"].as_str().unwrap();
    let cancelled: Value =
        app.request(Method::DELETE, &format!("/api/v1/messages/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    let again = app.request(Method::DELETE, &format!("/api/v1/messages/{id}")).send().await.unwrap();
    assert_problem(again, StatusCode::CONFLICT, "wrong_status").await;
    app.engine.scan("default", &crate::helpers::phone("+4915123456789")).await;
    app.wait_for_session("default", "connected").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.engine.sent().is_empty(), "a cancelled message is never sent");
    // Resend is refused for a message that is not failed or cancelled.
    let other = app.send_text("default", "+4915123456789", "goes").await;
    let other_id = other["id"].as_str().unwrap();
    app.wait_for_message(other_id, "sent").await;
    let refused = app.post(&format!("/api/v1/messages/{other_id}/resend"), json!({})).await;
    assert_problem(refused, StatusCode::CONFLICT, "wrong_status").await;
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_same_message() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let send = |body: Value, key: &'static str| {
        app.request(Method::POST, "/api/v1/messages").header("Idempotency-Key", key).json(&body).send()
    };
    let body = json!({ "session": "default", "to": "+4915123456789", "text": "once" });
    let first = send(body.clone(), "order-42").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let before = app.snapshot().await;

    // The same request again, even with keys in another order.
    let reordered = json!({ "text": "once", "to": "+4915123456789", "session": "default" });
    let second = send(reordered, "order-42").await.unwrap();
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["wa_id"], first["wa_id"]);

    let other =
        send(json!({ "session": "default", "to": "+4915123456789", "text": "twice" }), "order-42").await.unwrap();
    assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    assert_eq!(app.snapshot().await, before, "replays and refusals store nothing");

    let list: Value = app.get("/api/v1/messages").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_store_one_message() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let request = app
            .request(Method::POST, "/api/v1/messages")
            .header("Idempotency-Key", "same-key")
            .json(&json!({ "to": "+4915123456789", "text": "racy" }));
        tasks.spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        });
    }
    let ids: std::collections::HashSet<String> = tasks.join_all().await.into_iter().collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn lists_filter_and_page_newest_first() {
    let app = spawn_app().await;
    app.create_session("default").await;
    app.create_session("other").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.send_text("default", "+4915123456789", &format!("m{i}")).await["id"].as_str().unwrap().to_owned());
    }
    app.send_text("other", "+961 1 234 567", "elsewhere").await;
    ids.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/v1/messages?session=default&limit=3".to_owned();
    loop {
        let page: Value = app.get(&path).await.json().await.unwrap();
        seen.extend(page["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/messages?session=default&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every message once, newest first");

    let by_chat: Value = app.get("/api/v1/messages?chat=%2B9611234567").await.json().await.unwrap();
    assert_eq!(by_chat["data"].as_array().unwrap().len(), 1);
    let queued: Value = app.get("/api/v1/messages?status=queued&direction=outbound").await.json().await.unwrap();
    assert_eq!(queued["data"].as_array().unwrap().len(), 8);
    let future: Value = app.get("/api/v1/messages?since=2999-01-01T00:00:00Z").await.json().await.unwrap();
    assert!(future["data"].as_array().unwrap().is_empty());

    for bad in ["limit=0", "limit=500", "status=lost", "cursor=zzz", "since=yesterday", "chat=nonsense", "colour=red"] {
        let response = app.get(&format!("/api/v1/messages?{bad}")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_problem(app.get("/api/v1/messages?session=nobody").await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn unknown_messages_are_404() {
    let app = spawn_app().await;
    let missing = "01900000-0000-7000-8000-000000000000";
    assert_problem(app.get(&format!("/api/v1/messages/{missing}")).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/messages/not-a-uuid").await, StatusCode::NOT_FOUND, "not_found").await;
    let cancel = app.request(Method::DELETE, &format!("/api/v1/messages/{missing}")).send().await.unwrap();
    assert_problem(cancel, StatusCode::NOT_FOUND, "not_found").await;
    let resend = app.post(&format!("/api/v1/messages/{missing}/resend"), json!({})).await;
    assert_problem(resend, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_received_text_is_stored_before_it_is_acknowledged_and_stored_once() {
    let app = spawn_app().await;
    app.connected_session("default").await;

    let received = app.engine.incoming_text("default", &phone("+961 1 234 567"), "Hello from Beirut").await.unwrap();

    // The engine acknowledged it to WhatsApp only after the commit, so it is listed now.
    assert_eq!(app.engine.acknowledged(), std::slice::from_ref(&received.wa_id));
    let page: Value = app.get("/api/v1/messages?direction=inbound").await.json().await.unwrap();
    let listed = page["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let message = &listed[0];
    assert_eq!(message["direction"], "inbound");
    assert_eq!(message["status"], "received");
    assert_eq!(message["session"], "default");
    assert_eq!(message["chat"], "9611234567@s.whatsapp.net");
    assert_eq!(message["from"], "+9611234567");
    assert_eq!(message["push_name"], "Contact 9611234567");
    assert_eq!(message["to"], "+4915123456789", "the receiving session's own number");
    assert_eq!((message["kind"].as_str(), message["text"].as_str()), (Some("text"), Some("Hello from Beirut")));
    assert_eq!(message["wa_id"], received.wa_id.as_str());
    assert!(message["sent_at"].is_string() && message["created_at"].is_string());
    assert_eq!(&app.message(message["id"].as_str().unwrap()).await, message);
    let outbound: Value = app.get("/api/v1/messages?direction=outbound").await.json().await.unwrap();
    assert!(outbound["data"].as_array().unwrap().is_empty());

    // WhatsApp delivers it again, as after a crash before the acknowledgement.
    app.engine.redeliver("default", &received).await.unwrap();
    let all: Value = app.get("/api/v1/messages").await.json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 1, "a redelivery is stored once");
    assert_eq!(app.engine.acknowledged().len(), 2, "and acknowledged again");

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.engine.sent().is_empty(), "a received message is never sent");
}

#[tokio::test]
async fn a_received_message_cannot_be_cancelled_or_resent() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app.engine.incoming_text("default", &phone("+4915111111111"), "Hi").await.unwrap();
    let page: Value = app.get("/api/v1/messages").await.json().await.unwrap();
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let before = app.snapshot().await;

    let cancel = app.request(Method::DELETE, &format!("/api/v1/messages/{id}")).send().await.unwrap();
    assert_problem(cancel, StatusCode::CONFLICT, "inbound_message").await;
    let resend = app.post(&format!("/api/v1/messages/{id}/resend"), json!({})).await;
    assert_problem(resend, StatusCode::CONFLICT, "inbound_message").await;

    assert_eq!(app.snapshot().await, before, "refusals change nothing");
    assert_eq!(app.message(&id).await["status"], "received");
}
