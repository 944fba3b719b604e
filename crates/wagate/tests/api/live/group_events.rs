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

#[tokio::test]
async fn a_group_picture_is_set_as_a_square_jpeg_seen_by_members_and_removed() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.linked("desk", DESK, "Desk").await;
    let created = live.app.post("/api/v1/groups", json!({ "subject": "Team", "participants": [DESK] })).await;
    let jid = created.json::<Value>().await.unwrap()["jid"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/groups/{jid}/picture");
    let no_picture: Value = live.app.get(&format!("{path}?session=desk")).await.json().await.unwrap();
    assert_eq!(no_picture["url"], Value::Null, "{no_picture}");

    let logo = super::kinds_out::png(1000, 800);
    let set = live.app.request(Method::PUT, &path).json(&json!({ "data": super::kinds_out::b64(&logo) }));
    assert_eq!(set.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let jpeg = live.sandbox.group_picture(&jid).expect("WhatsApp has the picture");
    let picture = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
    assert_eq!((picture.width(), picture.height()), (640, 640), "the centred square, 640 on a side");
    let seen: Value = live.app.get(&format!("{path}?session=desk")).await.json().await.unwrap();
    assert!(seen["url"].as_str().is_some_and(|u| u.starts_with("https://")), "a member sees it: {seen}");
    let events: Value = live.app.get("/api/v1/events?session=default&types=group.updated").await.json().await.unwrap();
    assert!(events["data"].as_array().unwrap().iter().any(|e| e["data"]["picture"] == true), "{events:#}");

    // A member who is not an admin may not change it once the group is locked.
    let locked = live.app.request(Method::PATCH, &format!("/api/v1/groups/{jid}")).json(&json!({ "locked": true }));
    assert_eq!(locked.send().await.unwrap().status(), StatusCode::OK);
    let by_desk = json!({ "session": "desk", "data": super::kinds_out::b64(&logo) });
    let refused = live.app.request(Method::PUT, &path).json(&by_desk).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "whatsapp_refused");

    for bad in
        [json!({ "data": "bm90IGEgcGljdHVyZQ==" }), json!({}), json!({ "url": "https://x.test/a.png", "data": "aGk=" })]
    {
        let response = live.app.request(Method::PUT, &path).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let not_a_group =
        live.app.request(Method::PUT, "/api/v1/groups/+4915110000083/picture").json(&json!({ "data": "aGk=" }));
    assert_eq!(not_a_group.send().await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(live.sandbox.group_picture(&jid), Some(jpeg), "refused changes changed nothing");

    let removed = live.app.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(live.sandbox.group_picture(&jid), None);
    let gone: Value = live.app.get(&path).await.json().await.unwrap();
    assert_eq!(gone["url"], Value::Null);
}
