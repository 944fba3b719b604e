//! Opt-in through the real engine and real sandbox contacts: a new contact gets the
//! prompt, a message to them waits for the answer; YES (or نعم) lets it go, NO ends
//! what waits as `opted_out` until START.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wagate_sandbox::ReceivedMessage;

use super::{LINK_TIMEOUT, Live, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000131";
const ANN: &str = "+4915110000132";
const BOB: &str = "+4915110000133";

async fn require_opt_in(live: &Live) {
    let settings = json!({ "settings": {
        "opt_in": { "mode": "required" },
        "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 },
    } });
    let response = live.app.request(Method::PATCH, "/api/v1/sessions/default").json(&settings).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The texts `phone` got from the shop, once there are `count`.
async fn texts(live: &Live, phone: &str, count: usize) -> Vec<String> {
    within(LINK_TIMEOUT, &format!("{phone} got {count} messages"), || async {
        let got: Vec<ReceivedMessage> = live.sandbox.contact_messages(phone).unwrap();
        let texts: Vec<String> = got.into_iter().filter_map(|m| m.text).collect();
        (texts.len() >= count).then_some(texts)
    })
    .await
}

async fn opt_in(live: &Live, phone: &str) -> Value {
    let response = live.app.get(&format!("/api/v1/sessions/default/opt-ins/{phone}")).await;
    assert_eq!(response.status(), StatusCode::OK, "GET opt-in of {phone}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_new_contact_is_asked_and_yes_lets_the_waiting_message_go() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;
    require_opt_in(&live).await;

    live.sandbox.contact_send_text(ANN, SHOP, "Hello, do you deliver?").await.expect("Ann writes");
    let prompt = texts(&live, ANN, 1).await;
    assert!(prompt[0].contains("YES") && prompt[0].contains("نعم"), "a bilingual prompt: {prompt:?}");
    assert_eq!(opt_in(&live, ANN).await["status"], "pending");

    // A message to a contact who has not answered waits.
    let offer = live.send_text("default", ANN, "Today only: free delivery").await;
    let offer_id = offer["id"].as_str().unwrap();
    let held = within(LINK_TIMEOUT, "the offer is held", || async {
        let message = live.app.message(offer_id).await;
        message["error"].as_str().is_some_and(|e| e.contains("opt-in")).then_some(message)
    })
    .await;
    assert_eq!(held["status"], "queued", "{held}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts(&live, ANN, 1).await.len(), 1, "nothing but the prompt reached Ann");

    live.sandbox.contact_send_text(ANN, SHOP, "نعم").await.expect("Ann agrees");
    let delivered = live.wait_for_message(offer_id, "delivered").await;
    let got = texts(&live, ANN, 3).await;
    assert!(got.iter().any(|t| t.contains("subscribed")), "a confirmation: {got:?}");
    assert!(got.contains(&"Today only: free delivery".to_owned()), "{got:?}");
    assert_eq!(delivered["origin"], Value::Null);

    let ann = opt_in(&live, ANN).await;
    assert_eq!(ann["status"], "yes");
    let history: Vec<(&str, &str)> = ann["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_str().unwrap(), c["how"].as_str().unwrap()))
        .collect();
    assert_eq!(history, [("pending", "first_message"), ("yes", "reply")]);
    assert_eq!(ann["history"][1]["note"], "نعم");
    assert_eq!(ann["history"][1]["by"], Value::Null, "the contact, not an API key");

    // The prompt and the confirmation are the gateway's own messages, and the events
    // tell each change.
    let sent: Value = live.app.get("/api/v1/messages?direction=outbound&limit=10").await.json().await.unwrap();
    let origins: Vec<&Value> = sent["data"].as_array().unwrap().iter().map(|m| &m["origin"]).collect();
    assert_eq!(origins.iter().filter(|o| **o == "opt_in").count(), 2, "{sent}");
    let events: Value = live.app.get("/api/v1/events?types=contact.opt_in").await.json().await.unwrap();
    let statuses: Vec<&str> =
        events["data"].as_array().unwrap().iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "yes"], "{events}");
    assert_eq!(events["data"][0]["data"]["contact"]["phone"], ANN);
}

#[tokio::test]
async fn no_opts_out_for_good_until_start() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(BOB, "Bob", None).await;
    require_opt_in(&live).await;

    live.sandbox.contact_send_text(BOB, SHOP, "hi").await.expect("Bob writes");
    texts(&live, BOB, 1).await;
    let waiting = live.send_text("default", BOB, "New arrivals this week").await;
    live.sandbox.contact_send_text(BOB, SHOP, "NO").await.expect("Bob declines");
    let ended = live.wait_for_message(waiting["id"].as_str().unwrap(), "opted_out").await;
    assert!(ended["error"].as_str().unwrap().contains("opted out"), "{ended}");
    let got = texts(&live, BOB, 2).await;
    assert!(got[1].contains("START"), "the confirmation says how to come back: {got:?}");

    // A later message ends the same way; YES is not START.
    let later = live.send_text("default", BOB, "Last chance!").await;
    live.wait_for_message(later["id"].as_str().unwrap(), "opted_out").await;
    live.sandbox.contact_send_text(BOB, SHOP, "yes").await.expect("Bob says yes");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(opt_in(&live, BOB).await["status"], "no");
    let still = live.send_text("default", BOB, "Really last chance").await;
    live.wait_for_message(still["id"].as_str().unwrap(), "opted_out").await;

    live.sandbox.contact_send_text(BOB, SHOP, "START").await.expect("Bob comes back");
    within(LINK_TIMEOUT, "Bob is in again", || async { (opt_in(&live, BOB).await["status"] == "yes").then_some(()) })
        .await;
    let welcome = live.send_text("default", BOB, "Welcome back").await;
    live.wait_for_message(welcome["id"].as_str().unwrap(), "delivered").await;
    let got = texts(&live, BOB, 4).await;
    assert!(!got.iter().any(|t| t.contains("chance") || t.contains("arrivals")), "{got:?}");
    assert_eq!(got.last().map(String::as_str), Some("Welcome back"));
}
