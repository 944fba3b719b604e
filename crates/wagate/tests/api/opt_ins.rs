//! Opt-in and the suppression list through the API on the FakeEngine: settings, lists
//! imported with an audit trail, the prompt flow, and bad requests that change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, eventually, phone};
use crate::kinds::app;

const ANN: &str = "+9611234567";
const BOB: &str = "+9611234568";

async fn patch(app: &TestApp, settings: Value) -> reqwest::Response {
    let body = json!({ "settings": settings });
    app.request(Method::PATCH, "/api/v1/sessions/default").json(&body).send().await.unwrap()
}

async fn require(app: &TestApp) {
    let response =
        patch(app, json!({ "opt_in": { "mode": "required" }, "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 } }));
    assert_eq!(response.await.status(), StatusCode::OK);
}

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn the_mode_and_texts_are_settings_and_bad_ones_change_nothing() {
    let app = app().await;
    let shown: Value = app.get("/api/v1/sessions/default").await.json().await.unwrap();
    assert_eq!(shown["settings"]["opt_in"], json!({ "mode": "off", "prompt": null, "on_yes": null, "on_no": null }));
    let before = app.snapshot().await;
    for bad in [
        json!({ "opt_in": { "mode": "sometimes" } }),
        json!({ "opt_in": { "prompt": "Hi?" } }),
        json!({ "opt_in": { "mode": "required", "prompt": "  " } }),
        json!({ "opt_in": { "mode": "required", "on_yes": "x".repeat(4097) } }),
        json!({ "opt_in": { "mode": "required", "greeting": "Hi" } }),
    ] {
        assert_eq!(patch(&app, bad.clone()).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
    let texts = json!({ "mode": "required", "prompt": "Reply YES for news", "on_yes": "Welcome!", "on_no": null });
    let set: Value = patch(&app, json!({ "opt_in": texts })).await.json().await.unwrap();
    assert_eq!(set["settings"]["opt_in"], texts);
}

#[tokio::test]
async fn only_contacts_who_said_yes_are_sent_to_and_an_imported_list_is_audited() {
    let app = app().await;
    require(&app).await;

    // Nobody opted in yet: the message ends without going out.
    let cold = app.send_text("default", ANN, "Big sale!").await;
    let ended = app.wait_for_message(cold["id"].as_str().unwrap(), "opted_out").await;
    assert!(ended["error"].as_str().unwrap().contains("has not opted in"), "{ended}");
    assert!(app.engine.sent().is_empty());

    // An imported list says yes, with a note; the send goes.
    let imported = json!({ "contacts": [ANN, "00961 1234568", ANN], "status": "yes", "note": "newsletter form" });
    let result: Value = app.post("/api/v1/sessions/default/opt-ins", imported).await.json().await.unwrap();
    assert_eq!(result["updated"], 2, "duplicates count once: {result}");
    let warm = app.send_text("default", ANN, "Big sale!").await;
    app.wait_for_message(warm["id"].as_str().unwrap(), "sent").await;
    let ann: Value = app.get(&format!("/api/v1/sessions/default/opt-ins/{ANN}")).await.json().await.unwrap();
    assert_eq!(ann["status"], "yes");
    assert_eq!(ann["history"][0]["how"], "api");
    assert_eq!(ann["history"][0]["note"], "newsletter form");
    assert!(ann["history"][0]["by"].as_str().unwrap().starts_with("api_key:"), "{ann}");

    // Withdrawn through the API: what waits ends, later sends too.
    let page: Value = app.get("/api/v1/sessions/default/opt-ins?status=yes").await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2, "{page}");
    let no = put(&app, &format!("/api/v1/sessions/default/opt-ins/{BOB}"), json!({ "status": "no" })).await;
    assert_eq!(no.status(), StatusCode::OK);
    let bob = app.send_text("default", BOB, "Hello Bob").await;
    app.wait_for_message(bob["id"].as_str().unwrap(), "opted_out").await;
    assert_eq!(app.engine.sent().len(), 1);
}

#[tokio::test]
async fn a_new_contact_gets_the_prompt_and_their_message_waits_for_the_answer() {
    let app = app().await;
    require(&app).await;
    app.engine.incoming_text("default", &phone(ANN), "Hello").await.unwrap();
    let prompt = eventually("the prompt goes out", || async { app.engine.sent().into_iter().next() }).await;
    assert!(prompt.text.contains("نعم"), "{prompt:?}");

    let waiting = app.send_text("default", ANN, "Your order shipped").await;
    let id = waiting["id"].as_str().unwrap().to_owned();
    let held = eventually("held", || async {
        let m = app.message(&id).await;
        m["error"].as_str().is_some_and(|e| e.contains("opt-in prompt")).then_some(m)
    })
    .await;
    assert_eq!((held["status"].as_str(), held["attempts"].as_u64()), (Some("queued"), Some(0)), "{held}");

    app.engine.incoming_text("default", &phone(ANN), "Yes!").await.unwrap();
    app.wait_for_message(&id, "sent").await;
    assert_eq!(app.engine.sent().len(), 3, "prompt, confirmation and the message");

    // STOP at any time; START brings them back.
    app.engine.incoming_text("default", &phone(ANN), "stop").await.unwrap();
    eventually("opted out", || async {
        let ann: Value = app.get(&format!("/api/v1/sessions/default/opt-ins/{ANN}")).await.json().await.unwrap();
        (ann["status"] == "no").then_some(())
    })
    .await;
    let after_stop = app.send_text("default", ANN, "One more thing").await;
    app.wait_for_message(after_stop["id"].as_str().unwrap(), "opted_out").await;
}

#[tokio::test]
async fn a_suppressed_number_is_never_sent_to_whatever_the_mode() {
    let app = app().await;
    let path = format!("/api/v1/suppressions/{ANN}");
    let response = put(&app, &path, json!({ "reason": "asked by phone" })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let entry: Value = response.json().await.unwrap();
    assert_eq!((entry["phone"].as_str(), entry["reason"].as_str()), (Some(ANN), Some("asked by phone")));
    let message = app.send_text("default", ANN, "Hi").await;
    let ended = app.wait_for_message(message["id"].as_str().unwrap(), "opted_out").await;
    assert!(ended["error"].as_str().unwrap().contains("suppression list"), "{ended}");
    let list: Value = app.get("/api/v1/suppressions").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let gone = app.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    let again = app.send_text("default", ANN, "Hi again").await;
    app.wait_for_message(again["id"].as_str().unwrap(), "sent").await;
}

#[tokio::test]
async fn bad_opt_in_and_suppression_requests_are_refused_and_change_nothing() {
    let app = app().await;
    let before = app.snapshot().await;
    let opt_in = format!("/api/v1/sessions/default/opt-ins/{ANN}");
    for (path, body) in [
        (opt_in.clone(), json!({ "status": "maybe" })),
        (opt_in.clone(), json!({ "status": "yes", "note": "x".repeat(1001) })),
        (opt_in.clone(), json!({ "status": "yes", "extra": 1 })),
        ("/api/v1/sessions/default/opt-ins/120363025246125244@g.us".into(), json!({ "status": "yes" })),
        ("/api/v1/sessions/default/opt-ins/not-a-number".into(), json!({ "status": "yes" })),
        ("/api/v1/suppressions/not-a-number".into(), json!({})),
        (format!("/api/v1/suppressions/{ANN}"), json!({ "reason": "x".repeat(1001) })),
    ] {
        let response = put(&app, &path, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}");
    }
    for body in [
        json!({ "contacts": [], "status": "yes" }),
        json!({ "contacts": [ANN, "bogus"], "status": "yes" }),
        json!({ "contacts": [ANN], "status": "later" }),
    ] {
        let response = app.post("/api/v1/sessions/default/opt-ins", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_problem(app.get(&opt_in).await, StatusCode::NOT_FOUND, "not_found").await;
    let missing = put(&app, "/api/v1/sessions/nosuch/opt-ins/+9611234567", json!({ "status": "yes" })).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot().await, before, "nothing changed");
}
