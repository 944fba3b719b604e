//! Group changes made by someone else arrive as WhatsApp group notifications through
//! the real engine and are recorded as events of the session that saw them; the
//! session that made them records them too.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000081";
const DESK: &str = "+4915110000082";
const BOB: &str = "+4915110000083";

#[tokio::test]
async fn group_changes_are_events_of_the_session_that_saw_them_and_the_one_that_made_them() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    // A second session of the same gateway is a member the shop's changes are told to.
    live.linked("desk", DESK, "Desk").await;
    live.contact(BOB, "Bob", None).await;

    let created = live.app.post("/api/v1/groups", json!({ "subject": "Team", "participants": [DESK] })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let jid = created.json::<Value>().await.unwrap()["jid"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/groups/{jid}");
    let renamed = live.app.request(Method::PATCH, &path).json(&json!({ "subject": "Team A", "announce": true }));
    assert_eq!(renamed.send().await.unwrap().status(), StatusCode::OK);
    let participants = format!("{path}/participants");
    let added = live.app.post(&participants, json!({ "action": "add", "participants": [BOB] })).await;
    assert_eq!(added.status(), StatusCode::OK);
    let promoted = live.app.post(&participants, json!({ "action": "promote", "participants": [DESK] })).await;
    assert_eq!(promoted.status(), StatusCode::OK);

    let events = within(LINK_TIMEOUT, "the desk's group events", || async {
        let page: Value = live.app.get("/api/v1/events?session=desk&types=group.*").await.json().await.unwrap();
        let list = page["data"].as_array()?.clone();
        let promoted = list.iter().any(|e| e["data"]["action"] == "promote");
        promoted.then_some(list)
    })
    .await;
    let data: Vec<&Value> = events.iter().map(|e| &e["data"]).collect();
    assert!(events.iter().all(|e| e["session"] == "desk" && e["data"]["group"] == jid.as_str()), "{events:#?}");
    assert!(data.iter().all(|d| d["by"]["phone"] == SHOP), "made by the shop: {data:#?}");
    assert!(data.iter().any(|d| d["subject"] == "Team A"), "{data:#?}");
    assert!(data.iter().any(|d| d["announcement"] == true), "{data:#?}");
    let added = data.iter().find(|d| d["action"] == "add").expect("Bob's joining is told");
    assert_eq!(added["participants"][0]["phone"], BOB, "{added}");
    let promoted = data.iter().find(|d| d["action"] == "promote").unwrap();
    assert_eq!(promoted["participants"][0]["phone"], DESK, "{promoted}");
    // The shop's own session records what it did, as the same events.
    let page: Value = live.app.get("/api/v1/events?session=default&types=group.*").await.json().await.unwrap();
    let own: Vec<&Value> = page["data"].as_array().unwrap().iter().map(|e| &e["data"]).collect();
    assert!(own.iter().all(|d| d["by"]["phone"] == SHOP && d["group"] == jid.as_str()), "{own:#?}");
    assert!(own.iter().any(|d| d["subject"] == "Team A"), "{own:#?}");
    assert!(own.iter().any(|d| d["action"] == "add" && d["participants"][0]["phone"] == BOB), "{own:#?}");
    assert!(own.iter().any(|d| d["action"] == "promote" && d["participants"][0]["phone"] == DESK), "{own:#?}");
    // In the order they were made.
    let at = |f: &dyn Fn(&Value) -> bool| data.iter().position(|d| f(d)).unwrap();
    assert!(at(&|d| d["subject"] == "Team A") < at(&|d| d["action"] == "add"), "{data:#?}");
    assert!(at(&|d| d["action"] == "add") < at(&|d| d["action"] == "promote"), "{data:#?}");
}
