//! Auto-replies through the real engine: sandbox contacts get the answer of the rule
//! their message matches, and two gateway numbers answering each other stop by
//! themselves.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{LINK_TIMEOUT, Live, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000141";
const ANN: &str = "+4915110000142";
const BOB: &str = "+4915110000143";
const CAROL: &str = "+4915110000144";
const BOT: &str = "+4915110000145";

async fn set_auto_reply(live: &Live, session: &str, auto_reply: Value) {
    let settings = json!({ "settings": {
        "auto_reply": auto_reply,
        "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 },
    } });
    let path = format!("/api/v1/sessions/{session}");
    let response = live.app.request(Method::PATCH, &path).json(&settings).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

/// The texts `phone` got, once there are `count`.
async fn texts(live: &Live, phone: &str, count: usize) -> Vec<String> {
    within(LINK_TIMEOUT, &format!("{phone} got {count} messages"), || async {
        let texts: Vec<String> =
            live.sandbox.contact_messages(phone).unwrap().into_iter().filter_map(|m| m.text).collect();
        (texts.len() >= count).then_some(texts)
    })
    .await
}

/// The session's auto-replies so far.
async fn auto_replies(live: &Live, session: &str) -> usize {
    let path = format!("/api/v1/messages?session={session}&direction=outbound&limit=200");
    let page: Value = live.app.get(&path).await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().filter(|m| m["origin"] == "auto_reply").count()
}

#[tokio::test]
async fn contacts_get_the_answer_of_the_rule_their_message_matches() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    for (phone, name) in [(ANN, "Ann"), (BOB, "Bob"), (CAROL, "Carol")] {
        live.contact(phone, name, None).await;
    }
    set_auto_reply(
        &live,
        "default",
        json!({
            "rules": [
                { "match": "contains", "pattern": "price", "reply": "Our prices: example.com/prices" },
                { "match": "regex", "pattern": "^(كم|ما) ", "reply": "سنجيبك قريباً" },
            ],
            "default_reply": "Thanks! We answer within the hour.",
        }),
    )
    .await;

    live.sandbox.contact_send_text(ANN, SHOP, "What's the PRICE of the blue one?").await.unwrap();
    live.sandbox.contact_send_text(BOB, SHOP, "كم سعر الشحن؟").await.unwrap();
    live.sandbox.contact_send_text(CAROL, SHOP, "Hello").await.unwrap();
    assert_eq!(texts(&live, ANN, 1).await, ["Our prices: example.com/prices"]);
    assert_eq!(texts(&live, BOB, 1).await, ["سنجيبك قريباً"]);
    assert_eq!(texts(&live, CAROL, 1).await, ["Thanks! We answer within the hour."]);

    // A second message right after the answer gets none (it looks like another bot).
    live.sandbox.contact_send_text(ANN, SHOP, "price?").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(texts(&live, ANN, 1).await.len(), 1);
    assert_eq!(auto_replies(&live, "default").await, 3);
}

#[tokio::test]
async fn two_gateway_numbers_answering_each_other_stop_by_themselves() {
    let live = spawn_live().await;
    live.linked("shop", SHOP, "Shop").await;
    live.linked("bot", BOT, "Bot").await;
    let answer_everything = |reply: &str| json!({ "default_reply": reply });
    set_auto_reply(&live, "shop", answer_everything("Shop here, thanks for writing")).await;
    set_auto_reply(&live, "bot", answer_everything("Bot here, message received")).await;

    let hello = live.app.post("/api/v1/messages", json!({ "session": "shop", "to": BOT, "text": "Hello bot" })).await;
    assert_eq!(hello.status(), StatusCode::ACCEPTED);
    within(LINK_TIMEOUT, "both answered once", || async {
        (auto_replies(&live, "bot").await >= 1 && auto_replies(&live, "shop").await >= 1).then_some(())
    })
    .await;
    // Long enough for several more rounds if the loop went on.
    let counts = (auto_replies(&live, "shop").await, auto_replies(&live, "bot").await);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = (auto_replies(&live, "shop").await, auto_replies(&live, "bot").await);
    assert_eq!(later, counts, "the exchange stopped");
    assert!(later.0 <= 2 && later.1 <= 2, "it stopped after a round or two: {later:?}");
}
