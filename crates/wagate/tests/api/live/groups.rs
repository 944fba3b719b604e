//! Groups through the API, live: created, used and changed by a session, seen by the
//! sandbox's contacts; and who is on WhatsApp.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::{assert_problem, within};

const SHOP: &str = "+4915110000051";
const BOB: &str = "+4915110000052";
const CAROL: &str = "+4915110000053";

#[tokio::test]
async fn a_group_is_created_used_and_changed_through_the_api_and_the_contacts_see_it() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(BOB, "Bob", None).await;
    live.contact(CAROL, "Carol", None).await;

    let created = live.app.post("/api/v1/groups", json!({ "subject": "Plans", "participants": [BOB] })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let group: Value = created.json().await.unwrap();
    let jid = group["jid"].as_str().unwrap().to_owned();
    assert!(jid.ends_with("@g.us"), "{group}");
    assert_eq!(group["subject"], "Plans");
    let members = ids(&group);
    assert!(members.contains(&BOB.to_owned()) && members.contains(&SHOP.to_owned()), "{group}");

    // A text to the group reaches Bob, in the group's chat.
    live.send_text("default", &jid, "Saturday at ten?").await;
    let bob_got = wait_for_text(&live, BOB, &jid, "Saturday at ten?").await;
    assert_eq!(bob_got.from, "4915110000051@s.whatsapp.net");

    // Settings change and read back.
    let path = format!("/api/v1/groups/{jid}");
    let change =
        json!({ "subject": "Saturday plans", "description": "Bring a ball", "announce": true, "locked": true });
    let changed = live.app.request(Method::PATCH, &path).json(&change).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["subject"], "Saturday plans");
    assert_eq!(changed["description"], "Bring a ball");
    assert_eq!((changed["announce"].as_bool(), changed["locked"].as_bool()), (Some(true), Some(true)));

    // Carol joins and becomes an admin; the next text reaches her too.
    let participants = format!("/api/v1/groups/{jid}/participants");
    let added: Value =
        live.app.post(&participants, json!({ "action": "add", "participants": [CAROL] })).await.json().await.unwrap();
    assert_eq!(added["data"][0]["ok"], true, "{added}");
    let promoted = live.app.post(&participants, json!({ "action": "promote", "participants": [CAROL] })).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let now: Value = live.app.get(&path).await.json().await.unwrap();
    let carol = now["participants"].as_array().unwrap().iter().find(|p| p["id"] == CAROL).expect("Carol is in");
    assert_eq!(carol["admin"], true, "{now}");
    live.send_text("default", &jid, "Welcome Carol").await;
    wait_for_text(&live, CAROL, &jid, "Welcome Carol").await;

    // Carol (an admin, so announcement mode lets her) writes to the group: it comes in.
    live.sandbox.contact_send_text(CAROL, &jid, "Thanks!").await.expect("Carol sends");
    let inbound = within(LINK_TIMEOUT, "Carol's group text is listed", || async {
        let list: Value = live.app.get("/api/v1/messages?direction=inbound").await.json().await.unwrap();
        list["data"].as_array().and_then(|d| d.iter().find(|m| m["text"] == "Thanks!").cloned())
    })
    .await;
    assert_eq!(inbound["chat"], jid.as_str(), "{inbound}");
    assert_eq!(inbound["from"], CAROL, "{inbound}");

    // Invites: a revoked code is replaced.
    let invite: Value = live.app.get(&format!("{path}/invite")).await.json().await.unwrap();
    let revoked: Value = live.app.post(&format!("{path}/invite/revoke"), json!({})).await.json().await.unwrap();
    assert_ne!(invite["code"], revoked["code"]);
    assert!(revoked["link"].as_str().unwrap().ends_with(revoked["code"].as_str().unwrap()));

    // Bob is removed: he is no longer a member and gets nothing more.
    let removed = live.app.post(&participants, json!({ "action": "remove", "participants": [BOB] })).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let listed: Value = live.app.get("/api/v1/groups").await.json().await.unwrap();
    let ours = listed["data"].as_array().unwrap().iter().find(|g| g["jid"] == jid.as_str()).expect("listed");
    assert!(!ids(ours).contains(&BOB.to_owned()), "{ours}");
    live.send_text("default", &jid, "Without Bob").await;
    wait_for_text(&live, CAROL, &jid, "Without Bob").await;
    let bob_texts: Vec<_> = live.sandbox.contact_messages(BOB).unwrap().into_iter().filter_map(|m| m.text).collect();
    assert!(!bob_texts.iter().any(|t| t == "Without Bob"), "{bob_texts:?}");

    // Leaving: the group is gone from the session's list.
    let left = live.app.post(&format!("{path}/leave"), json!({})).await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    let listed: Value = live.app.get("/api/v1/groups").await.json().await.unwrap();
    assert!(!listed["data"].as_array().unwrap().iter().any(|g| g["jid"] == jid.as_str()), "{listed}");
}

#[tokio::test]
async fn group_requests_are_checked_before_whatsapp_is_asked() {
    let live = spawn_live().await;
    live.app.create_session("offline").await;
    live.linked("default", "+4915110000054", "Shop").await;

    let no_subject = live.app.post("/api/v1/groups", json!({ "subject": " ", "participants": [BOB] })).await;
    assert_problem(no_subject, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let nobody = live.app.post("/api/v1/groups", json!({ "subject": "Plans", "participants": [] })).await;
    assert_problem(nobody, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let bad_person = live.app.post("/api/v1/groups", json!({ "subject": "Plans", "participants": ["nobody"] })).await;
    assert_problem(bad_person, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let not_a_group = live.app.get("/api/v1/groups/4915110000052@s.whatsapp.net").await;
    assert_problem(not_a_group, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let nothing = live.app.request(Method::PATCH, "/api/v1/groups/120363000000000099@g.us").json(&json!({})).send();
    assert_problem(nothing.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let offline = live.app.get("/api/v1/groups?session=offline").await;
    assert_problem(offline, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    // WhatsApp itself refuses a group the session is not in.
    let unknown = live.app.get("/api/v1/groups/120363000000000099@g.us").await;
    assert!(unknown.status().is_client_error(), "{}", unknown.status());
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "whatsapp_refused");
}

#[tokio::test]
async fn the_number_check_knows_sandbox_numbers_from_the_rest() {
    let live = spawn_live().await;
    live.linked("default", "+4915110000055", "Shop").await;
    live.contact("+4915110000056", "Dana", None).await;

    let asked = json!({ "phones": ["+49 151 10000056", "+4915110000099", "+4915110000055"] });
    let response = live.app.post("/api/v1/contacts/check", asked).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let answers: Vec<(bool, Value)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["on_whatsapp"].as_bool().unwrap(), a["jid"].clone()))
        .collect();
    assert_eq!(
        answers,
        [
            (true, json!("4915110000056@s.whatsapp.net")),
            (false, Value::Null),
            (true, json!("4915110000055@s.whatsapp.net")),
        ]
    );
}

fn ids(group: &Value) -> Vec<String> {
    group["participants"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

async fn wait_for_text(live: &super::Live, phone: &str, chat: &str, text: &str) -> wagate_sandbox::ReceivedMessage {
    within(LINK_TIMEOUT, &format!("{phone} gets '{text}'"), || async {
        let inbox = live.sandbox.contact_messages(phone).unwrap();
        inbox.into_iter().find(|m| m.chat == chat && m.text.as_deref() == Some(text))
    })
    .await
}
