//! Presence, live: a session follows a contact and sees them go offline and come back.

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

    let group = live.app.post("/api/v1/contacts/120363000000000001@g.us/presence/subscribe", json!({})).await;
    assert_problem(group, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}
