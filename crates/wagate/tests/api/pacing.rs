//! Caps and quiet hours set through the API hold sends back on the FakeEngine.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::kinds::app;

async fn settings(app: &TestApp, settings: Value) -> reqwest::Response {
    let patch = app.request(Method::PATCH, "/api/v1/sessions/default").json(&json!({ "settings": settings }));
    patch.send().await.unwrap()
}

#[tokio::test]
async fn a_cap_per_minute_holds_the_next_send_back() {
    let app = app().await;
    let changed: Value = settings(&app, json!({ "caps": { "per_minute": 2 } })).await.json().await.unwrap();
    assert_eq!(changed["settings"]["caps"], json!({ "per_minute": 2, "per_hour": null, "per_day": null }));
    assert!(changed["settings"]["throttle"].is_object(), "kept: {changed}");

    let mut ids = Vec::new();
    for n in 1..=3 {
        let accepted = app.send_text("default", "+9611234567", &format!("Message {n}")).await;
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    app.wait_for_message(&ids[0], "sent").await;
    app.wait_for_message(&ids[1], "sent").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let third = app.message(&ids[2]).await;
    assert_eq!(third["status"], "queued", "the third waits for the minute");
    assert_eq!(third["error_code"], "cap_reached", "and says why: {third}");
    assert_eq!(app.engine.sent().len(), 2);

    // Lifting the cap lets it go.
    assert_eq!(settings(&app, json!({ "caps": {} })).await.status(), StatusCode::OK);
    app.wait_for_message(&ids[2], "sent").await;
}

#[tokio::test]
async fn quiet_hours_and_caps_are_checked_and_kept() {
    let app = app().await;
    let before = app.snapshot().await;
    for bad in [
        json!({ "caps": { "per_minute": 0 } }),
        json!({ "caps": { "per_week": 3 } }),
        json!({ "quiet_hours": { "start": "22:00", "end": "08:00", "time_zone": "Mars/Olympus" } }),
        json!({ "quiet_hours": { "start": "10pm", "end": "08:00", "time_zone": "Asia/Beirut" } }),
        json!({ "quiet_hours": { "start": "22:00", "time_zone": "Asia/Beirut" } }),
    ] {
        assert_eq!(settings(&app, bad.clone()).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");

    let quiet = json!({ "start": "22:00", "end": "08:00", "time_zone": "Asia/Beirut" });
    let set: Value = settings(&app, json!({ "quiet_hours": quiet })).await.json().await.unwrap();
    assert_eq!(set["settings"]["quiet_hours"], quiet);
    let shown: Value = app.get("/api/v1/sessions/default").await.json().await.unwrap();
    assert_eq!(shown["settings"]["quiet_hours"], quiet);
    let cleared: Value = settings(&app, json!({ "quiet_hours": null })).await.json().await.unwrap();
    assert_eq!(cleared["settings"]["quiet_hours"], Value::Null);

    let warm: Value = settings(&app, json!({ "warmup": [20, 40, 80] })).await.json().await.unwrap();
    assert_eq!(warm["settings"]["warmup"], json!([20, 40, 80]));
    assert_eq!(settings(&app, json!({ "warmup": [20, 0] })).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown: Value = app.get("/api/v1/sessions/default").await.json().await.unwrap();
    assert_eq!(shown["settings"]["warmup"], json!([20, 40, 80]), "a refused change changed nothing");
}

#[tokio::test]
async fn the_queue_shows_its_depth_the_caps_used_and_when_each_message_should_go() {
    let app = app().await;
    let paced = json!({ "throttle": { "min_delay_ms": 10_000, "max_delay_ms": 20_000 }, "caps": { "per_minute": 2 } });
    assert_eq!(settings(&app, paced).await.status(), StatusCode::OK);
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let accepted = app.send_text("default", "+9611234567", &format!("Message {n}")).await;
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }

    let queue: Value = app.get("/api/v1/sessions/default/queue").await.json().await.unwrap();
    assert_eq!((queue["session"].as_str(), queue["depth"].as_u64()), (Some("default"), Some(3)), "{queue:#}");
    assert_eq!(queue["caps"]["per_minute"], json!({ "limit": 2, "used": 0 }));
    assert_eq!(queue["caps"]["per_day"], json!({ "limit": null, "used": 0 }));
    let listed: Vec<&str> = queue["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>(), "in send order");
    let at = |i: usize| {
        let text = queue["messages"][i]["estimated_send_at"].as_str().unwrap();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(at(1) - at(0), time::Duration::seconds(15), "the average pause");
    assert_eq!(at(2) - at(0), time::Duration::seconds(60), "the third waits for the minute's cap");

    assert_eq!(app.get("/api/v1/sessions/nobody/queue").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/sessions/Bad%20Name/queue").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_new_number_warms_up_with_a_small_daily_cap() {
    let app = app().await;
    assert_eq!(settings(&app, json!({ "warmup": [1, 5] })).await.status(), StatusCode::OK);
    let first = app.send_text("default", "+9611234567", "First").await;
    let second = app.send_text("default", "+9611234567", "Second").await;
    app.wait_for_message(first["id"].as_str().unwrap(), "sent").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(app.message(second["id"].as_str().unwrap()).await["status"], "queued", "one on the first day");
    assert_eq!(settings(&app, json!({ "warmup": [] })).await.status(), StatusCode::OK);
    app.wait_for_message(second["id"].as_str().unwrap(), "sent").await;
}

#[tokio::test]
async fn lanes_spacing_and_typing_are_checked_and_kept() {
    let app = app().await;
    let before = app.snapshot().await;
    for bad in [
        json!({ "lanes": { "low": { "per_minute": 0 } } }),
        json!({ "lanes": { "bulk": { "per_minute": 5 } } }),
        json!({ "recipient_spacing_seconds": 0 }),
        json!({ "recipient_spacing_seconds": 604_801 }),
        json!({ "simulate_typing": "yes" }),
    ] {
        assert_eq!(settings(&app, bad.clone()).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
    let good = json!({
        "lanes": { "high": null, "normal": null, "low": { "per_minute": 2, "per_hour": 60, "per_day": null } },
        "recipient_spacing_seconds": 60,
        "simulate_typing": true,
    });
    let set: Value = settings(&app, good.clone()).await.json().await.unwrap();
    for field in ["lanes", "recipient_spacing_seconds", "simulate_typing"] {
        assert_eq!(set["settings"][field], good[field], "{field}");
    }
    let cleared: Value = settings(&app, json!({ "recipient_spacing_seconds": null })).await.json().await.unwrap();
    assert_eq!(cleared["settings"]["recipient_spacing_seconds"], Value::Null);
    assert_eq!(cleared["settings"]["lanes"], good["lanes"], "kept");
}

#[tokio::test]
async fn a_message_held_by_quiet_hours_says_so() {
    let app = app().await;
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let quiet = json!({ "start": at(now - time::Duration::hours(1)), "end": at(now + time::Duration::hours(1)), "time_zone": "UTC" });
    assert_eq!(settings(&app, json!({ "quiet_hours": quiet })).await.status(), StatusCode::OK);

    let accepted = app.send_text("default", "+9611234567", "Good night").await;
    let id = accepted["id"].as_str().unwrap();
    let held = crate::helpers::eventually("the message says it waits for the quiet hours", || async {
        let message = app.message(id).await;
        (message["error_code"] == "quiet_hours").then_some(message)
    })
    .await;
    assert_eq!(held["status"], "queued", "{held}");
    assert!(held["error"].as_str().unwrap().contains("quiet hours"), "{held}");
    assert!(app.engine.sent().is_empty());

    assert_eq!(settings(&app, json!({ "quiet_hours": null })).await.status(), StatusCode::OK);
    let sent = app.wait_for_message(id, "sent").await;
    assert!(sent["error_code"].is_null(), "{sent}");
}
