//! 1:1 messaging between a real client under test (Alice) and a simulated contact
//! (Bob, a real client inside the sandbox): end-to-end encrypted texts both ways,
//! server acks, delivery and read receipts, and the offline queue.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use wacore::proto_helpers::MessageBuilderExt as _;
use wacore::proto_helpers::MessageExt as _;
use wagate_sandbox::{AutoReceipts, NewContact, Reply, SandboxHandle};
use waproto::whatsapp as wa;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::types::presence::{ChatPresence, ReceiptType};
use whatsapp_rust::{Jid, SendOptions};

use common::{Events, PairedClient, pair_client, start_sandbox, wait_for_inbox};

const ALICE: &str = "+15550001";
const BOB: &str = "+15550002";
const BOB_DIGITS: &str = "15550002";

/// Alice's paired client and Bob the contact, set up side by side: each fresh
/// pairing spends about 10 s waiting for app-state keys.
async fn alice_and_bob(sandbox: &SandboxHandle, bob: NewContact) -> PairedClient {
    sandbox.create_account(ALICE, "Alice").unwrap();
    let (alice, bob) = tokio::join!(pair_client(sandbox, ALICE), sandbox.create_contact(bob));
    let bob = bob.expect("contact Bob is created and connected");
    assert!(bob.online && bob.device.starts_with(BOB_DIGITS), "{bob:?}");
    alice
}

/// Waits for a receipt, unless an earlier wait already passed over it.
async fn wait_receipt(events: &mut Events, id: &str, kind: ReceiptType) {
    if receipts_for(events, id, kind.clone()) > 0 {
        return;
    }
    let what = format!("{kind:?} receipt for {id}");
    events
        .wait_for(&what, |e| match e {
            Event::Receipt(r) if r.r#type == kind && r.message_ids.iter().any(|m| m == id) => Some(()),
            _ => None,
        })
        .await;
}

async fn wait_server_ack(events: &mut Events, id: &str) {
    events
        .wait_for("server ack", |e| match e {
            Event::ServerAck(ack) if ack.id == id => {
                assert_eq!(ack.error, None, "the server must not nack a 1:1 message");
                Some(())
            }
            _ => None,
        })
        .await;
}

async fn wait_text(events: &mut Events, text: &str) -> String {
    events
        .wait_for(&format!("message {text:?}"), |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.message.text_content() == Some(text)).map(|m| {
                assert_eq!(m.info.source.sender.user, BOB_DIGITS);
                m.info.id.to_string()
            }),
            _ => None,
        })
        .await
}

fn receipts_for(events: &Events, id: &str, kind: ReceiptType) -> usize {
    let count = |e: &Event| matches!(e, Event::Receipt(r) if r.r#type == kind && r.message_ids.iter().any(|m| m == id));
    events.seen.iter().filter(|e| count(e)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_text_to_a_contact_is_acked_delivered_and_read() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox, NewContact::new(BOB, "Bob")).await;

    let sent = alice.bot.client().send_text(Jid::pn(BOB_DIGITS), "hi Bob").await.expect("send");
    wait_server_ack(&mut alice.events, &sent.message_id).await;
    let inbox = wait_for_inbox(&sandbox, BOB, "the text", |inbox| !inbox.is_empty()).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].id, sent.message_id);
    assert_eq!(inbox[0].text.as_deref(), Some("hi Bob"));
    assert_eq!(inbox[0].from, "15550001@s.whatsapp.net");
    wait_receipt(&mut alice.events, &sent.message_id, ReceiptType::Delivered).await;

    // Bob reads it through the admin API.
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/contacts/{BOB}", sandbox.http_url());
    let listed: Value = http.get(format!("{url}/messages")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["id"], sent.message_id.as_str());
    let read =
        http.post(format!("{url}/read")).json(&json!({"chat": ALICE, "ids": [sent.message_id]})).send().await.unwrap();
    assert_eq!(read.status(), 204);
    wait_receipt(&mut alice.events, &sent.message_id, ReceiptType::Read).await;

    // Bob's client announced itself available when it connected.
    alice.bot.client().presence().subscribe(Jid::pn(BOB_DIGITS)).await.expect("subscribe");
    let unavailable = alice
        .events
        .wait_for("Bob's presence", |e| match e {
            Event::Presence(p) if p.from.user == BOB_DIGITS => Some(p.unavailable),
            _ => None,
        })
        .await;
    assert!(!unavailable, "Bob is online");
    sandbox.set_contact_online(BOB, false).await.unwrap();
    alice
        .events
        .wait_for("Bob going offline", |e| match e {
            Event::Presence(p) if p.from.user == BOB_DIGITS && p.unavailable => Some(()),
            _ => None,
        })
        .await;

    let contacts: Value =
        http.get(format!("{}/sandbox/contacts", sandbox.http_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(contacts[0]["phone"], BOB);
    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_replies_and_reads_on_its_own() {
    let sandbox = start_sandbox().await;
    let bob = NewContact {
        auto_receipts: AutoReceipts { delivered_ms: 0, read_ms: Some(0) },
        replies: vec![Reply { when_text_contains: "ping".into(), reply: "pong".into() }],
        ..NewContact::new(BOB, "Bob")
    };
    let mut alice = alice_and_bob(&sandbox, bob).await;

    let sent = alice.bot.client().send_text(Jid::pn(BOB_DIGITS), "ping").await.expect("send");
    wait_text(&mut alice.events, "pong").await;
    // Bob showed "typing…" before answering. Alice's client may hand the presence over
    // after the (decrypted) answer, so it is waited for if not seen yet.
    let typing = |e: &Event| matches!(e, Event::ChatPresence(c) if c.source.sender.user == BOB_DIGITS && c.state == ChatPresence::Composing);
    if !alice.events.saw(typing) {
        alice.events.wait_for("Bob typing", |e| typing(e).then_some(())).await;
    }
    wait_receipt(&mut alice.events, &sent.message_id, ReceiptType::Read).await;

    // And a text Bob sends on request through the admin API.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/sandbox/contacts/{BOB}/messages", sandbox.http_url()))
        .json(&json!({"to": ALICE, "text": "are you there?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_text(&mut alice.events, "are you there?").await, id);
    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offline_contact_gets_the_message_once_when_back() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox, NewContact::new(BOB, "Bob")).await;
    let alice_device = alice.bot.client().pn().unwrap().to_string();
    let bob_device = sandbox.contacts().await[0].device.clone();

    let offline = reqwest::Client::new()
        .post(format!("{}/sandbox/contacts/{BOB}/online", sandbox.http_url()))
        .json(&json!({"online": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(offline.status(), 200);
    assert_eq!(offline.json::<Value>().await.unwrap()["online"], false);
    let refused = sandbox.contact_send_text(BOB, ALICE, "from the void").await;
    assert!(matches!(refused, Err(wagate_sandbox::SandboxError::ContactOffline(_))), "{refused:?}");
    let client = alice.bot.client();
    let first = client.send_text(Jid::pn(BOB_DIGITS), "while you were out").await.expect("send");
    wait_server_ack(&mut alice.events, &first.message_id).await;
    assert_eq!(sandbox.pending_stanzas(&bob_device).unwrap(), 1, "queued for Bob");
    assert!(sandbox.contact_messages(BOB).unwrap().is_empty());

    sandbox.set_contact_online(BOB, true).await.unwrap();
    wait_for_inbox(&sandbox, BOB, "the queued text", |inbox| !inbox.is_empty()).await;
    wait_receipt(&mut alice.events, &first.message_id, ReceiptType::Delivered).await;

    // Both reconnect; nothing comes twice. Each side then gets one more stanza, which
    // queues behind anything a reconnect would have repeated.
    sandbox.set_contact_online(BOB, false).await.unwrap();
    sandbox.set_contact_online(BOB, true).await.unwrap();
    sandbox.inject_fault(&alice_device, wagate_sandbox::Fault::Restart).await.unwrap();
    alice.events.wait_for("reconnected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    let second = client.send_text(Jid::pn(BOB_DIGITS), "still there?").await.expect("send");
    let bob_id = sandbox.contact_send_text(BOB, ALICE, "yes").await.unwrap();
    assert_eq!(wait_text(&mut alice.events, "yes").await, bob_id);
    let inbox = wait_for_inbox(&sandbox, BOB, "the second text", |inbox| inbox.len() >= 2).await;
    let ids: Vec<&str> = inbox.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [first.message_id.as_str(), second.message_id.as_str()], "each message once, in order");
    wait_receipt(&mut alice.events, &second.message_id, ReceiptType::Delivered).await;
    alice.events.collect_pending();
    assert_eq!(receipts_for(&alice.events, &first.message_id, ReceiptType::Delivered), 1);

    // Every stanza was acknowledged, so nothing waits for a later login.
    for device in [&alice_device, &bob_device] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while sandbox.pending_stanzas(device).unwrap() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "{device} left stanzas unacknowledged");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_senders_other_device_gets_a_copy_and_the_receipts() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(ALICE, "Alice").unwrap();
    let (phone, laptop, bob) = tokio::join!(
        pair_client(&sandbox, ALICE),
        pair_client(&sandbox, ALICE),
        sandbox.create_contact(NewContact::new(BOB, "Bob"))
    );
    bob.expect("contact Bob is created");
    let (mut phone, mut laptop) = (phone, laptop);

    let sent = phone.bot.client().send_text(Jid::pn(BOB_DIGITS), "from my phone").await.expect("send");
    let chat = laptop
        .events
        .wait_for("the copy of Alice's own message", |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == sent.message_id).map(|m| {
                (
                    m.info.source.is_from_me,
                    m.info.source.chat.user.to_string(),
                    m.message.text_content().map(str::to_owned),
                )
            }),
            _ => None,
        })
        .await;
    assert_eq!(chat, (true, BOB_DIGITS.to_owned(), Some("from my phone".to_owned())));
    let inbox = wait_for_inbox(&sandbox, BOB, "the text", |inbox| !inbox.is_empty()).await;
    assert_eq!(inbox.len(), 1, "Bob gets one copy: {inbox:?}");
    wait_receipt(&mut phone.events, &sent.message_id, ReceiptType::Delivered).await;
    wait_receipt(&mut laptop.events, &sent.message_id, ReceiptType::Delivered).await;
    phone.bot.shutdown().await;
    laptop.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_contact_api_refuses_bad_requests() {
    let sandbox = start_sandbox().await;
    let http = reqwest::Client::new();
    let base = format!("{}/sandbox/contacts", sandbox.http_url());

    let delayed = json!({"phone": BOB, "name": "Bob", "auto_receipts": {"delivered_ms": 500}});
    let response = http.post(&base).json(&delayed).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "invalid_contact");
    let response = http.post(&base).json(&json!({"phone": "5550002", "name": "Bob"})).send().await.unwrap();
    assert_eq!(response.status(), 422);

    let unknown = http.get(format!("{base}/{BOB}/messages")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "contact_not_found");
    let send = http.post(format!("{base}/{BOB}/messages")).json(&json!({"to": ALICE, "text": "x"})).send().await;
    assert_eq!(send.unwrap().status(), 404);
    let listed: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, json!([]));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_sent_again_under_its_id_is_acked_and_delivered_once() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox, NewContact::new(BOB, "Bob")).await;
    let client = alice.bot.client();

    let sent = client.send_text(Jid::pn(BOB_DIGITS), "your order").await.expect("send");
    wait_server_ack(&mut alice.events, &sent.message_id).await;
    wait_for_inbox(&sandbox, BOB, "the text", |inbox| !inbox.is_empty()).await;
    // As a client does after a crash between sending and seeing the ack.
    let again = SendOptions::default().with_message_id(sent.message_id.clone());
    client.send_message_with_options(Jid::pn(BOB_DIGITS), wa::Message::text("your order"), again).await.expect("send");
    let acks = |events: &Events| {
        events.seen.iter().filter(|e| matches!(&***e, Event::ServerAck(a) if a.id == sent.message_id)).count()
    };
    alice
        .events
        .wait_for("the second ack", |e| matches!(e, Event::ServerAck(a) if a.id == sent.message_id).then_some(()))
        .await;
    assert_eq!(acks(&alice.events), 2, "both sends are acknowledged");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let inbox = sandbox.contact_messages(BOB).unwrap();
    assert_eq!(inbox.len(), 1, "Bob has it once: {inbox:?}");
    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
