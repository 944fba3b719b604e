//! Messages through the real engine: out to a contact with its receipts, and back in.

use serde_json::Value;
use wagate_sandbox::Fault;

use super::{LINK_TIMEOUT, spawn_live};
use crate::helpers::within;

#[tokio::test]
async fn a_text_arrives_once_its_receipts_come_back_and_the_reply_comes_in() {
    let live = spawn_live().await;
    live.linked("shop", "+4915110000031", "Shop").await;
    live.contact("+4915110000032", "Bob", Some(300)).await;

    let accepted = live.send_text("shop", "+49 151 10000032", "Your order #42 is ready").await;
    let id = accepted["id"].as_str().unwrap();
    let read = live.wait_for_message(id, "read").await;

    let wa_id = read["wa_id"].as_str().unwrap();
    let received = live.sandbox.contact_messages("+4915110000032").unwrap();
    let copies: Vec<_> = received.iter().filter(|m| m.id == wa_id).collect();
    assert_eq!(copies.len(), 1, "received once under the stored id: {received:?}");
    assert_eq!(copies[0].text.as_deref(), Some("Your order #42 is ready"));
    assert_eq!(copies[0].from, "4915110000031@s.whatsapp.net");
    let times: Vec<&str> = ["sent_at", "delivered_at", "read_at"].iter().map(|f| read[f].as_str().expect(f)).collect();
    let parsed: Vec<_> = times
        .iter()
        .map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap())
        .collect();
    assert!(parsed[0] <= parsed[1] && parsed[1] <= parsed[2], "sent ≤ delivered ≤ read: {times:?}");

    // Bob answers texts about orders.
    let inbound = within(LINK_TIMEOUT, "Bob's reply is listed", || async {
        let list: Value = live.app.get("/api/v1/messages?session=shop&direction=inbound").await.json().await.unwrap();
        list["data"].as_array().and_then(|d| d.first().cloned())
    })
    .await;
    assert_eq!(inbound["direction"], "inbound", "{inbound}");
    assert_eq!(inbound["text"], "Thanks, got it!", "{inbound}");
    assert_eq!(inbound["from"], "+4915110000032", "{inbound}");
    assert_eq!(inbound["push_name"], "Bob", "{inbound}");
    assert_eq!(inbound["status"], "received", "{inbound}");
}

#[tokio::test]
async fn a_message_the_contact_could_not_decrypt_is_sent_again_when_it_asks() {
    let live = spawn_live().await;
    live.linked("shop", "+4915110000033", "Shop").await;
    let bob = live.contact("+4915110000034", "Bob", None).await;

    // Bob's copy arrives garbled: his client sends a retry receipt, and the session's
    // client re-encrypts the message it kept and sends it again.
    live.sandbox.inject_fault(&bob.device, Fault::Garble).await.unwrap();
    let accepted = live.send_text("shop", "+4915110000034", "Hello Bob").await;
    let delivered = live.wait_for_message(accepted["id"].as_str().unwrap(), "delivered").await;

    let received = live.sandbox.contact_messages("+4915110000034").unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].id, delivered["wa_id"].as_str().unwrap());
    assert_eq!(received[0].text.as_deref(), Some("Hello Bob"));
}

/// The message events of one message, in log order, as `type` or `type:status`.
async fn story_of(live: &super::Live, message_id: &str) -> Vec<String> {
    let page: Value = live.app.get("/api/v1/events?types=message.*&limit=1000").await.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["message_id"] == message_id || e["data"]["message"]["id"] == message_id)
        .map(|e| match e["data"]["status"].as_str() {
            Some(status) => format!("{}:{status}", e["type"].as_str().unwrap()),
            None => e["type"].as_str().unwrap().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn a_receipt_that_overtakes_the_servers_ack_is_told_after_the_send_once_each() {
    let live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000035", "Shop").await;
    live.contact("+4915110000036", "Bob", None).await;
    // The server acknowledges each message only after Bob's phone said it has it.
    live.sandbox.inject_fault(&device.jid, Fault::LateAcks { ms: 1_500 }).await.unwrap();

    let mut ids = Vec::new();
    for n in 0..3 {
        let accepted = live.send_text("shop", "+4915110000036", &format!("Parcel {n} left the depot")).await;
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        live.wait_for_message(id, "delivered").await;
    }
    // Every late ack has come by now: the last message's send has finished.
    within(LINK_TIMEOUT, "the last send is acknowledged", || async {
        let sent: Value = live.app.get("/api/v1/sessions/shop/queue").await.json().await.unwrap();
        (sent["depth"] == 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
    for id in &ids {
        let message = live.app.message(id).await;
        assert_eq!(message["status"], "delivered", "a late ack does not move the message back: {message}");
        assert_eq!(story_of(&live, id).await, ["message.sent", "message.status:delivered"], "message {id}");
    }
}
