//! Auto-reply settings through the API on the FakeEngine: checked before they are
//! kept, shown as set, and second to the opt-in.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, phone};
use crate::kinds::app;

async fn patch(app: &TestApp, settings: Value) -> reqwest::Response {
    let body = json!({ "settings": settings });
    app.request(Method::PATCH, "/api/v1/sessions/default").json(&body).send().await.unwrap()
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_field_and_change_nothing() {
    let app = app().await;
    let before = app.snapshot().await;
    let rule =
        |matching: &str, pattern: &str, reply: &str| json!({ "match": matching, "pattern": pattern, "reply": reply });
    for (bad, field) in [
        (json!({ "rules": [rule("regex", "(unclosed", "x")] }), "settings.auto_reply.rules[0].pattern"),
        (
            json!({ "rules": [rule("contains", "ok", "x"), rule("exact", " ", "x")] }),
            "settings.auto_reply.rules[1].pattern",
        ),
        (json!({ "rules": [rule("contains", "price", "")] }), "settings.auto_reply.rules[0].reply"),
        (json!({ "rules": vec![rule("contains", "a", "b"); 101] }), "settings.auto_reply.rules"),
        (json!({ "default_reply": "  " }), "settings.auto_reply.default_reply"),
        (json!({ "cooldown_seconds": 2_592_001 }), "settings.auto_reply.cooldown_seconds"),
        (
            json!({ "active_hours": { "start": "18:00", "end": "18:00", "time_zone": "Asia/Beirut" } }),
            "settings.auto_reply.active_hours",
        ),
    ] {
        let response = patch(&app, json!({ "auto_reply": bad })).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().starts_with(field), "{problem}");
    }
    for bad in [json!({ "rules": [{ "match": "fuzzy", "pattern": "a", "reply": "b" }] }), json!({ "loops": true })] {
        let response = patch(&app, json!({ "auto_reply": bad.clone() })).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");

    let good = json!({
        "rules": [{ "match": "starts_with", "pattern": "order", "reply": "Your order number?", "priority": 2 }],
        "default_reply": null,
        "cooldown_seconds": 600,
        "active_hours": { "start": "18:00", "end": "09:00", "time_zone": "Asia/Beirut" },
        "groups": false,
    });
    let set: Value = patch(&app, json!({ "auto_reply": good })).await.json().await.unwrap();
    assert_eq!(set["settings"]["auto_reply"], good);
}

#[tokio::test]
async fn a_contact_who_opted_out_gets_no_auto_reply() {
    let app = app().await;
    let settings = json!({
        "opt_in": { "mode": "required" },
        "auto_reply": { "default_reply": "We answer soon" },
        "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 },
    });
    assert_eq!(patch(&app, settings).await.status(), StatusCode::OK);
    let ann = phone("+9611234567");
    app.engine.incoming_text("default", &ann, "STOP").await.unwrap();
    eventually("the opt-out is confirmed", || async { (app.engine.sent().len() == 1).then_some(()) }).await;
    app.engine.incoming_text("default", &ann, "Where is my parcel?").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let sent = app.engine.sent();
    assert_eq!(sent.len(), 1, "only the confirmation: {sent:?}");
    assert!(sent[0].text.contains("START"), "{sent:?}");

    // Someone who agreed gets the answer, after the confirmation.
    let bob = phone("+9611234568");
    app.engine.incoming_text("default", &bob, "yes").await.unwrap();
    eventually("confirmed", || async { (app.engine.sent().len() == 2).then_some(()) }).await;
    app.engine.incoming_text("default", &bob, "Where is my parcel?").await.unwrap();
    let answer = eventually("answered", || async { app.engine.sent().into_iter().nth(2) }).await;
    assert_eq!(answer.text, "We answer soon");
}
