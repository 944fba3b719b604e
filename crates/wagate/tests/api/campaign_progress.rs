//! `campaign.progress`: a campaign's progress is told when it starts, at most every
//! ten seconds while it runs, and when it completes, is paused or is cancelled, with
//! the numbers the API shows.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wagate_core::clock::ManualClock;

use crate::clock::{app_on, run_until};
use crate::helpers::{TestApp, eventually, spawn_app};

async fn progress_events(app: &TestApp) -> Vec<Value> {
    let page: Value = app.get("/api/v1/events?types=campaign.progress&limit=1000").await.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

async fn create(app: &TestApp, name: &str, count: usize) -> String {
    let recipients: Vec<Value> = (0..count).map(|n| json!({ "to": format!("+9617012{n:04}") })).collect();
    let body = json!({ "name": name, "message": { "text": "Hello" }, "recipients": recipients });
    let response = app.post("/api/v1/campaigns", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn at(event: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(event["created_at"].as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn a_running_campaign_is_told_at_its_start_every_ten_seconds_and_at_its_end() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    let every_3s = json!({ "settings": { "throttle": { "min_delay_ms": 3000, "max_delay_ms": 3000 } } });
    let patched = app.request(Method::PATCH, "/api/v1/sessions/default").json(&every_3s).send().await.unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let id = create(&app, "Winter sale", 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_until(&clock, start + Duration::from_secs(120)).await;
    let events = eventually("the campaign's last progress", || async {
        let events = progress_events(&app).await;
        (events.last()?["data"]["status"] == "completed").then_some(events)
    })
    .await;

    let first = &events[0];
    assert_eq!(first["session"], Value::Null);
    assert_eq!((&first["data"]["campaign_id"], &first["data"]["name"]), (&json!(id), &json!("Winter sale")));
    assert_eq!(first["data"]["status"], "running");
    let progress = &first["data"]["progress"];
    assert_eq!((&progress["total"], &progress["percent"], &progress["sent"]), (&json!(20), &json!(0.0), &json!(0)));
    let waiting = progress["pending"].as_u64().unwrap() + progress["queued"].as_u64().unwrap();
    assert_eq!(waiting, 20, "told as it starts: {first}");
    // Twenty sends three seconds apart: about a minute, so a handful of events between.
    assert!((4..=9).contains(&events.len()), "{} events: {events:#?}", events.len());
    let running = &events[..events.len() - 1];
    assert!(running.iter().all(|e| e["data"]["status"] == "running"));
    for pair in running.windows(2) {
        assert!(at(&pair[1]) - at(&pair[0]) >= time::Duration::seconds(10), "{pair:#?}");
    }
    let percents: Vec<f64> = events.iter().map(|e| e["data"]["progress"]["percent"].as_f64().unwrap()).collect();
    assert!(percents.windows(2).all(|w| w[0] < w[1]), "each tells progress: {percents:?}");
    // The last tells the same numbers as the API.
    let last = &events.last().unwrap()["data"];
    let shown: Value = app.get(&format!("/api/v1/campaigns/{id}")).await.json().await.unwrap();
    assert_eq!(last["progress"], shown["progress"], "{last}");
    assert_eq!(last["progress"]["percent"], 100.0);
    assert_eq!(last["progress"]["sent"], 20);
}

#[tokio::test]
async fn pausing_resuming_and_cancelling_are_told() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let slow = json!({ "settings": { "throttle": { "min_delay_ms": 1000, "max_delay_ms": 1000 } } });
    app.request(Method::PATCH, "/api/v1/sessions/default").json(&slow).send().await.unwrap();
    let id = create(&app, "Slow", 30).await;
    eventually("the first goes out", || async { (!app.engine.sent().is_empty()).then_some(()) }).await;
    let paused = app.post(&format!("/api/v1/campaigns/{id}/pause"), json!({})).await;
    assert_eq!(paused.status(), StatusCode::OK);
    let paused: Value = paused.json().await.unwrap();
    let resumed = app.post(&format!("/api/v1/campaigns/{id}/resume"), json!({})).await;
    assert_eq!(resumed.status(), StatusCode::OK);
    eventually("the resumed campaign is told", || async {
        let events = progress_events(&app).await;
        (events.last()?["data"]["status"] == "running" && events.len() > 2).then_some(())
    })
    .await;
    let cancelled: Value = app.post(&format!("/api/v1/campaigns/{id}/cancel"), json!({})).await.json().await.unwrap();

    let events = progress_events(&app).await;
    let mut statuses: Vec<&str> = events.iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
    statuses.dedup();
    assert_eq!(statuses, ["running", "paused", "running", "cancelled"], "{events:#?}");
    let told_paused = events.iter().find(|e| e["data"]["status"] == "paused").unwrap();
    let without_eta = |p: &Value| {
        let mut p = p.clone();
        p["eta_seconds"] = Value::Null;
        p
    };
    assert_eq!(without_eta(&told_paused["data"]["progress"]), without_eta(&paused["progress"]));
    let last = &events.last().unwrap()["data"]["progress"];
    assert_eq!(last, &cancelled["progress"], "the numbers the API shows");
    assert_eq!(last["pending"], 0);
}
