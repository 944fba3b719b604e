//! A campaign through the real engine: sandbox contacts each get their own message,
//! and the progress follows their receipts.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000151";
const PEOPLE: [(&str, &str); 3] = [("+4915110000152", "Ann"), ("+4915110000153", "Bob"), ("+4915110000154", "Carol")];

#[tokio::test]
async fn each_contact_gets_their_own_message_and_the_progress_follows_the_receipts() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    for (phone, name) in PEOPLE {
        live.contact(phone, name, Some(0)).await;
    }
    let fast = json!({ "settings": { "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 } } });
    live.app.request(Method::PATCH, "/api/v1/sessions/default").json(&fast).send().await.unwrap();
    let csv: String = std::iter::once("phone,name".to_owned())
        .chain(PEOPLE.iter().map(|(phone, name)| format!("{phone},{name}")))
        .collect::<Vec<_>>()
        .join("\n");
    let body = json!({ "name": "Welcome", "message": { "text": "Welcome, {{name}}!" }, "recipients_csv": csv });
    let response = live.app.post("/api/v1/campaigns", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let done = within(LINK_TIMEOUT, "every contact read it", || async {
        let c: Value = live.app.get(&format!("/api/v1/campaigns/{id}")).await.json().await.unwrap();
        (c["progress"]["read"] == 3).then_some(c)
    })
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    for (phone, name) in PEOPLE {
        let texts: Vec<String> =
            live.sandbox.contact_messages(phone).unwrap().into_iter().filter_map(|m| m.text).collect();
        assert_eq!(texts, [format!("Welcome, {name}!")]);
    }
}
