//! Presence, live: a session follows a contact and sees them go offline and come back,
//! each change told once as a `presence.updated` event.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::{assert_problem, within};

#[tokio::test]
async fn a_followed_contact_is_seen_going_offline_and_coming_back() {
    let live = spawn_live().await;
    live.linked("default", "+4915110000081", "Shop").await;
    live.contact("+4915110000082", "Eve", None).await;
    let path = "/api/v1/contacts/+4915110000082/presence";
    let unknown = live.app.get(path).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    let own = live.app.post("/api/v1/sessions/default/presence", json!({ "available": true })).await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    let follow = live.app.post(&format!("{path}/subscribe"), json!({})).await;
    assert_eq!(follow.status(), StatusCode::ACCEPTED);
    let presence = |available: bool| {
        let live = &live;
        async move {
            within(LINK_TIMEOUT, &format!("Eve is reported available={available}"), || async {
                let response = live.app.get(path).await;
                if response.status() != StatusCode::OK {
                    return None;
                }
                let seen: Value = response.json().await.unwrap();
                (seen["available"] == available).then_some(seen)
            })
            .await
        }
    };
    presence(true).await;
    live.sandbox.set_contact_online("+4915110000082", false).await.expect("Eve goes offline");
    let gone = presence(false).await;
    assert!(gone["reported_at"].is_string(), "{gone}");
    live.sandbox.set_contact_online("+4915110000082", true).await.expect("Eve is back");
    presence(true).await;

    // Each change is an event; what WhatsApp repeats is not.
    let told = within(LINK_TIMEOUT, "Eve's return is told", || async {
        let page: Value = live.app.get("/api/v1/events?types=presence.updated").await.json().await.unwrap();
        let told: Vec<Value> = page["data"].as_array()?.iter().map(|e| e["data"].clone()).collect();
        (told.len() >= 3 && told.last()?["available"] == true).then_some(told)
    })
    .await;
    assert!(told.iter().all(|d| d["contact"]["phone"] == "+4915110000082"), "{told:#?}");
    assert!(told.windows(2).all(|w| w[0] != w[1]), "no repeats: {told:#?}");
    let available: Vec<&Value> = told.iter().map(|d| &d["available"]).collect();
    assert!(available.ends_with(&[&json!(true), &json!(false), &json!(true)]), "{told:#?}");
    let offline = &told[told.len() - 2];
    assert!(offline["last_seen"].is_string(), "{offline}");

    let group = live.app.post("/api/v1/contacts/120363000000000001@g.us/presence/subscribe", json!({})).await;
    assert_problem(group, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}
