//! Status broadcasts: a real client (Alice) posts a text status for two simulated
//! contacts (Bob, Carol) but not a third (Dave); a contact posts one for Alice and Dave.
//! Each arrives decrypted in `status@broadcast` at the chosen recipients only, and a
//! reaction to a status goes to its poster.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use wacore::proto_helpers::MessageExt as _;
use wagate_sandbox::{NewContact, SandboxHandle};
use waproto::whatsapp::message::extended_text_message::FontType;
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;

use common::{assert_refused, pair_client, start_sandbox, wait_for_inbox};

const ALICE: &str = "+15550001";
const BOB: &str = "+15550002";
const CAROL: &str = "+15550003";
const DAVE: &str = "+15550004";

async fn wait_status(sandbox: &SandboxHandle, phone: &str, text: &str, from: &str) {
    let inbox =
        wait_for_inbox(sandbox, phone, text, |inbox| inbox.iter().any(|m| m.text.as_deref() == Some(text))).await;
    let got = inbox.iter().find(|m| m.text.as_deref() == Some(text)).unwrap();
    assert_eq!((got.chat.as_str(), got.from.as_str()), ("status@broadcast", from), "{got:?}");
}

fn never_got(sandbox: &SandboxHandle, phone: &str, text: &str) {
    let inbox = sandbox.contact_messages(phone).unwrap();
    assert!(inbox.iter().all(|m| m.text.as_deref() != Some(text)), "{phone} got {text:?}: {inbox:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_reaches_the_chosen_recipients_only() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(ALICE, "Alice").unwrap();
    let contact = |phone: &'static str, name: &'static str| sandbox.create_contact(NewContact::new(phone, name));
    let (alice, bob, carol, dave) =
        tokio::join!(pair_client(&sandbox, ALICE), contact(BOB, "Bob"), contact(CAROL, "Carol"), contact(DAVE, "Dave"));
    for created in [bob, carol, dave] {
        created.expect("contact created");
    }
    let mut alice = alice;
    let client = alice.bot.client();

    // Statuses are addressed by LID: Alice's app knows its contacts' first.
    let recipients = [Jid::pn("15550002"), Jid::pn("15550003")];
    let known = client.contacts().is_on_whatsapp(&recipients).await.expect("contact lookup");
    assert!(known.iter().all(|k| k.is_registered && k.lid.is_some()), "{known:?}");
    let posted = client
        .status()
        .send_text("Out for lunch", 0xFF1E_6E4F, FontType::SYSTEM, &recipients, Default::default())
        .await
        .expect("status posted");
    let acked = alice
        .events
        .wait_for("the status's server ack", |e| match e {
            Event::ServerAck(ack) if ack.id == posted.message_id => Some(ack.error.clone()),
            _ => None,
        })
        .await;
    assert_eq!(acked, None);
    for phone in [BOB, CAROL] {
        wait_status(&sandbox, phone, "Out for lunch", "15550001@s.whatsapp.net").await;
    }

    // Bob reacts to Alice's status: the reaction goes to her alone.
    sandbox.contact_react(BOB, "status@broadcast", &posted.message_id, "🔥").await.expect("Bob reacts");
    let reaction = alice
        .events
        .wait_for("Bob's reaction to the status", |e| match e {
            Event::Messages(batch) => batch.iter().find_map(|m| {
                let reaction = m.message.reaction_message.as_option()?;
                let key = reaction.key.as_option()?;
                (key.id.as_deref() == Some(posted.message_id.as_str()))
                    .then(|| (m.info.source.sender.user.to_string(), reaction.text.clone()))
            }),
            _ => None,
        })
        .await;
    assert_eq!(reaction, ("15550002".to_owned(), Some("🔥".to_owned())));

    // Bob posts one through the admin API, for Alice and Dave.
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/contacts/15550002/status", sandbox.http_url());
    let answer = http.post(&url).json(&json!({"text": "Back at 3", "to": [ALICE, DAVE]})).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let id = answer.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let (chat, text) = alice
        .events
        .wait_for("Bob's status", |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).map(|m| {
                assert_eq!(m.info.source.sender.user, "15550002");
                (m.info.source.chat.to_string(), m.message.text_content().map(str::to_owned))
            }),
            _ => None,
        })
        .await;
    assert_eq!((chat.as_str(), text.as_deref()), ("status@broadcast", Some("Back at 3")));
    wait_status(&sandbox, DAVE, "Back at 3", "15550002@s.whatsapp.net").await;

    // And through the Rust API, for Carol.
    sandbox.contact_post_status(DAVE, "Gone fishing", &[CAROL]).await.expect("Dave posts");
    wait_status(&sandbox, CAROL, "Gone fishing", "15550004@s.whatsapp.net").await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    never_got(&sandbox, DAVE, "Out for lunch");
    never_got(&sandbox, CAROL, "Back at 3");
    never_got(&sandbox, BOB, "Gone fishing");
    alice.events.collect_pending();
    let saw = |text: &str| {
        alice
            .events
            .saw(|e| matches!(e, Event::Messages(b) if b.iter().any(|m| m.message.text_content() == Some(text))))
    };
    assert!(!saw("Gone fishing"), "Alice was not among Dave's recipients");

    assert_refused(
        &url,
        &[
            json!({"text": "x", "to": []}),
            json!({"text": "", "to": [ALICE]}),
            json!({"text": "x", "to": ["120363000000000001@g.us"]}),
            json!({"text": "x", "to": ["+15559999"]}),
            json!({"text": "x"}),
        ],
    )
    .await;

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
