//! The dispatcher on a manual clock: an hour of sending on the FakeEngine runs in a
//! moment, and every pause, cap, quiet hour and due time is checked to the millisecond.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wagate_core::clock::{Clock, ManualClock};
use wagate_engine::{Engine, FakeEngine};
use wagate_store::Store;

use crate::helpers::{TestApp, spawn_app_on};

/// A server whose dispatchers and FakeEngine read `clock`.
pub async fn app_on(clock: &Arc<ManualClock>) -> TestApp {
    app_on_with(clock, |_| {}).await
}

/// [`app_on`], with `adjust` tuning the configuration.
pub async fn app_on_with(clock: &Arc<ManualClock>, adjust: impl FnOnce(&mut wagate::Config)) -> TestApp {
    let now = clock.clone();
    let engine = FakeEngine::new().with_clock(move || now.now());
    let fake = engine.clone();
    let manual = Clock::manual(clock.clone());
    let make = Arc::new(move |_: &Store| Arc::new(fake.clone()) as Arc<dyn Engine>);
    let app = spawn_app_on(engine, make, |config| {
        config.clock = manual;
        adjust(config);
    })
    .await;
    app.connected_session("default").await;
    app
}

/// Moves the clock to each wake-up the dispatcher (or a webhook) sleeps until, once it
/// has slept there a moment (so it is not busy), until `end`; when nothing sleeps on the
/// clock for a while, straight to `end`.
pub async fn run_until(clock: &ManualClock, end: OffsetDateTime) {
    let mut last = None;
    let mut idle = 0;
    while clock.now() < end {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let next = clock.next_wake();
        idle = if next.is_none() { idle + 1 } else { 0 };
        match next {
            Some(wake) if next == last => {
                clock.advance_to(wake.min(end));
                last = None;
            }
            None if idle > 100 => clock.advance_to(end),
            _ => last = next,
        }
    }
}

fn at(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

async fn patch(app: &TestApp, settings: Value) {
    let body = json!({ "settings": settings });
    let response = app.request(Method::PATCH, "/api/v1/sessions/default").json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Every send time of the session's outbound messages, oldest first.
async fn send_times(app: &TestApp) -> Vec<OffsetDateTime> {
    let mut times = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value =
            app.get(&format!("/api/v1/messages?direction=outbound&limit=200{cursor}")).await.json().await.unwrap();
        times.extend(
            page["data"].as_array().unwrap().iter().filter(|m| !m["sent_at"].is_null()).map(|m| at(&m["sent_at"])),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    times.sort();
    times
}

#[tokio::test]
async fn an_hour_on_the_clock_keeps_every_gap_cap_and_quiet_hour() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    // Quiet for ten minutes, twenty minutes in (UTC, whole minutes).
    let quiet_from = (start + Duration::from_secs(20 * 60)).replace_second(0).unwrap();
    let quiet_to = quiet_from + Duration::from_secs(10 * 60);
    let hhmm = |t: OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    patch(
        &app,
        json!({
            "throttle": { "min_delay_ms": 8000, "max_delay_ms": 22000 },
            "caps": { "per_minute": 3, "per_hour": 150 },
            "quiet_hours": { "start": hhmm(quiet_from), "end": hhmm(quiet_to), "time_zone": "UTC" },
        }),
    )
    .await;
    for n in 0..300 {
        app.send_text("default", "+9611234567", &format!("Message {n}")).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let end = start + Duration::from_secs(3600);
    run_until(&clock, end).await;

    let sent = send_times(&app).await;
    assert!(sent.len() > 100, "an hour of sending: {}", sent.len());
    assert!(sent.iter().all(|t| *t <= end));
    for (i, pair) in sent.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(gap >= time::Duration::seconds(8), "gap {i} is {gap}: shorter than the window");
        if gap > time::Duration::seconds(22) {
            // Only a cap or the quiet hours may hold a send back beyond the window,
            // and then to the very moment they allow it.
            let by_minute_cap = i >= 2 && pair[1] == sent[i - 2] + time::Duration::minutes(1);
            let by_quiet_hours = pair[1] == quiet_to;
            assert!(by_minute_cap || by_quiet_hours, "gap {i} is {gap} with no cap or quiet hour behind it");
        }
    }
    for (i, t) in sent.iter().enumerate() {
        let in_last_minute = sent[..=i].iter().filter(|s| **s > *t - time::Duration::minutes(1)).count();
        assert!(in_last_minute <= 3, "{in_last_minute} sends in the minute up to {t}");
        assert!(!(quiet_from..quiet_to).contains(t), "a send at {t} in quiet hours");
    }
    assert!(sent.contains(&quiet_to), "the queue went on right when the quiet hours ended");
    println!("{} sends in the simulated hour", sent.len());
}

#[tokio::test]
async fn a_scheduled_message_goes_at_its_time_on_the_clock() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    let send_at = start + Duration::from_secs(2 * 3600 + 17);
    let body = json!({ "to": "+9611234567", "text": "Happy birthday!", "send_at": send_at.format(&Rfc3339).unwrap() });
    let response = app.post("/api/v1/messages", body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(100)).await;

    run_until(&clock, send_at - Duration::from_secs(1)).await;
    assert_eq!(app.message(&id).await["status"], "scheduled", "not a second early");
    run_until(&clock, send_at + Duration::from_secs(5)).await;
    let sent = app.message(&id).await;
    assert_eq!(sent["status"], "sent");
    let late = at(&sent["sent_at"]) - send_at;
    assert!(late >= time::Duration::ZERO && late < time::Duration::seconds(1), "sent {late} after its time");
}

/// Send times by recipient and priority, in order.
async fn sends(app: &TestApp) -> Vec<(OffsetDateTime, String, String)> {
    let page: Value = app.get("/api/v1/messages?direction=outbound&limit=200").await.json().await.unwrap();
    let mut sent: Vec<(OffsetDateTime, String, String)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["sent_at"].is_null())
        .map(|m| (at(&m["sent_at"]), m["to"].as_str().unwrap().to_owned(), m["priority"].as_str().unwrap().to_owned()))
        .collect();
    sent.sort();
    sent
}

#[tokio::test]
async fn a_recipient_waits_out_the_spacing_while_others_go_ahead() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    patch(&app, json!({ "throttle": { "min_delay_ms": 1000, "max_delay_ms": 1000 }, "recipient_spacing_seconds": 60 }))
        .await;
    for n in 0..3 {
        app.send_text("default", "+9611234567", &format!("Ann {n}")).await;
    }
    for n in 0..3 {
        app.send_text("default", "+9611234568", &format!("Bob {n}")).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_until(&clock, start + Duration::from_secs(600)).await;

    let sent = sends(&app).await;
    assert_eq!(sent.len(), 6);
    for who in ["+9611234567", "+9611234568"] {
        let times: Vec<OffsetDateTime> = sent.iter().filter(|s| s.1 == who).map(|s| s.0).collect();
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= time::Duration::seconds(60), "{who} got two within a minute: {sent:?}");
            assert!(pair[1] - pair[0] < time::Duration::seconds(62), "{who} waited longer than needed: {sent:?}");
        }
    }
    assert_eq!(sent[1].1, "+9611234568", "Bob goes while Ann waits: {sent:?}");
    assert!(sent[1].0 - sent[0].0 < time::Duration::seconds(2), "{sent:?}");
}

#[tokio::test]
async fn a_capped_bulk_lane_waits_while_transactional_messages_go() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    patch(
        &app,
        json!({ "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 }, "lanes": { "low": { "per_minute": 2 } } }),
    )
    .await;
    for n in 0..6 {
        let body = json!({ "to": format!("+96170120{n:03}"), "text": "Sale!", "priority": "low" });
        assert_eq!(app.post("/api/v1/messages", body).await.status(), StatusCode::ACCEPTED);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_until(&clock, start + Duration::from_secs(30)).await;
    // Two bulk messages went; a transactional one now goes at once, ahead of the rest.
    let code = app
        .post("/api/v1/messages", json!({ "to": "+9611234567", "text": "Your code is 1234", "priority": "high" }))
        .await;
    let code: Value = code.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_until(&clock, start + Duration::from_secs(31)).await;
    let sent_code = app.message(code["id"].as_str().unwrap()).await;
    assert_eq!(sent_code["status"], "sent", "the high lane has no cap: {sent_code}");
    run_until(&clock, start + Duration::from_secs(300)).await;

    let low: Vec<OffsetDateTime> = sends(&app).await.into_iter().filter(|s| s.2 == "low").map(|s| s.0).collect();
    assert_eq!(low.len(), 6);
    for (i, t) in low.iter().enumerate() {
        let in_minute = low[..=i].iter().filter(|s| **s > *t - time::Duration::minutes(1)).count();
        assert!(in_minute <= 2, "{in_minute} bulk sends in the minute up to {t}: {low:?}");
    }
    assert!(low[5] - low[0] < time::Duration::seconds(125), "no longer than the cap needs: {low:?}");
}

#[tokio::test]
async fn simulated_typing_takes_as_long_as_typing_the_text() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on(&clock).await;
    patch(&app, json!({ "simulate_typing": true })).await;
    let text = "Your table for four is booked for 8 pm tonight. See you soon!";
    let accepted = app.send_text("default", "+9611234567", text).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_until(&clock, start + Duration::from_secs(60)).await;
    let sent = app.message(accepted["id"].as_str().unwrap()).await;
    let typing = app.engine.typing_shown();
    assert_eq!(typing.len(), 1, "{typing:?}");
    let took = at(&sent["sent_at"]) - at(&sent["created_at"]);
    let expected = time::Duration::milliseconds(50 * text.chars().count() as i64);
    assert!(took >= expected && took < expected + time::Duration::seconds(1), "sent {took} after it came in");
}
