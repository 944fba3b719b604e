//! Reactions and polls between a real client under test (Alice) and a simulated contact
//! (Bob): Bob reacts to Alice's message and takes the reaction back, Alice's reaction
//! shows in Bob's received list; Bob votes in Alice's poll with the poll's secret and
//! Alice decrypts the vote to the option he chose.

mod common;

use serde_json::{Value, json};
use wagate_sandbox::{NewContact, SandboxHandle};
use waproto::whatsapp as wa;
use whatsapp_rust::Jid;
use whatsapp_rust::features::PollVoteCiphertext;
use whatsapp_rust::types::events::Event;

use common::{Events, PairedClient, assert_refused, pair_client, start_sandbox, wait_for_inbox};

const ALICE: &str = "+15550001";
const BOB: &str = "+15550002";
const BOB_DIGITS: &str = "15550002";

async fn alice_and_bob(sandbox: &SandboxHandle) -> PairedClient {
    sandbox.create_account(ALICE, "Alice").unwrap();
    let (alice, bob) = tokio::join!(pair_client(sandbox, ALICE), sandbox.create_contact(NewContact::new(BOB, "Bob")));
    bob.expect("contact Bob is created and connected");
    alice
}

/// The next reaction Alice's client decrypts: `(target id, emoji, reacting user)`.
async fn wait_reaction(events: &mut Events, target: &str, emoji: &str) -> String {
    events
        .wait_for(&format!("reaction {emoji:?} to {target}"), |e| match e {
            Event::Messages(batch) => batch.iter().find_map(|m| {
                let reaction = m.message.reaction_message.as_option()?;
                let id = reaction.key.as_option()?.id.as_deref()?;
                (id == target && reaction.text.as_deref() == Some(emoji)).then(|| m.info.source.sender.user.to_string())
            }),
            _ => None,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_reacts_and_receives_reactions() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox).await;
    let client = alice.bot.client();
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/contacts/{BOB_DIGITS}/reactions", sandbox.http_url());

    let sent = client.send_text(Jid::pn(BOB_DIGITS), "lunch at noon?").await.expect("send");
    wait_for_inbox(&sandbox, BOB, "Alice's text", |inbox| inbox.iter().any(|m| m.id == sent.message_id)).await;

    // Bob reacts through the admin API, then takes it back through the Rust API.
    let answer = http.post(&url).json(&json!({"chat": ALICE, "id": sent.message_id, "emoji": "👍"})).send().await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), 201);
    assert!(answer.json::<Value>().await.unwrap()["id"].is_string());
    assert_eq!(wait_reaction(&mut alice.events, &sent.message_id, "👍").await, BOB_DIGITS);
    sandbox.contact_react(BOB, ALICE, &sent.message_id, "").await.expect("Bob removes his reaction");
    assert_eq!(wait_reaction(&mut alice.events, &sent.message_id, "").await, BOB_DIGITS);

    // Alice reacts to Bob's text: his received list shows the reaction.
    let bobs = sandbox.contact_send_text(BOB, ALICE, "sure").await.expect("Bob sends");
    let key = wa::MessageKey {
        remote_jid: Some(Jid::pn(BOB_DIGITS).to_string()),
        from_me: Some(false),
        id: Some(bobs.clone()),
        participant: None,
    };
    let reaction = client.send_reaction(Jid::pn(BOB_DIGITS), key, "❤️").await.expect("Alice reacts");
    let inbox =
        wait_for_inbox(&sandbox, BOB, "Alice's reaction", |inbox| inbox.iter().any(|m| m.kind == "reaction")).await;
    let got = inbox.iter().find(|m| m.kind == "reaction").unwrap();
    assert_eq!(got.id, reaction.message_id);
    assert_eq!((got.emoji.as_deref(), got.target_id.as_deref()), (Some("❤️"), Some(bobs.as_str())), "{got:?}");
    assert_eq!(got.from, "15550001@s.whatsapp.net");
    let listed: Value = http
        .get(format!("{}/sandbox/contacts/{BOB_DIGITS}/messages", sandbox.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = listed.as_array().unwrap().iter().find(|m| m["kind"] == "reaction").unwrap();
    assert_eq!((&entry["emoji"], &entry["target_id"]), (&json!("❤️"), &json!(bobs)));

    assert_refused(
        &url,
        &[
            json!({"chat": ALICE, "emoji": "👍"}),
            json!({"chat": ALICE, "id": "", "emoji": "👍"}),
            json!({"chat": "nobody", "id": sent.message_id, "emoji": "👍"}),
        ],
    )
    .await;

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_votes_in_a_poll_and_the_creator_decrypts_the_vote() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox).await;
    let client = alice.bot.client();
    let options: Vec<String> = ["Red", "Green", "Blue"].map(str::to_owned).to_vec();

    let (poll, secret) =
        client.polls().create(Jid::pn(BOB_DIGITS), "Which colour?", &options, 1).await.expect("poll created");
    let inbox = wait_for_inbox(&sandbox, BOB, "the poll", |inbox| inbox.iter().any(|m| m.kind == "poll")).await;
    let got = inbox.iter().find(|m| m.kind == "poll").unwrap();
    assert_eq!(got.id, poll.message_id);
    assert_eq!(got.question.as_deref(), Some("Which colour?"));
    assert_eq!(got.options.as_deref(), Some(options.as_slice()));

    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/contacts/{BOB_DIGITS}/votes", sandbox.http_url());
    for (bad, code) in [
        (json!({"poll_id": poll.message_id, "options": ["Purple"]}), "invalid_message"),
        (json!({"poll_id": poll.message_id, "options": ["Red", "Green"]}), "invalid_message"),
        (json!({"poll_id": "NOSUCHPOLL", "options": ["Red"]}), "invalid_message"),
        (json!({"poll_id": poll.message_id}), "invalid_body"),
    ] {
        let answer = http.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), 422, "{bad}");
        assert_eq!(answer.json::<Value>().await.unwrap()["code"], code, "{bad}");
    }
    let answer = http.post(&url).json(&json!({"poll_id": poll.message_id, "options": ["Green"]})).send().await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), 201);
    let vote_id = answer.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let (voter, update) = alice
        .events
        .wait_for("Bob's vote", |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == vote_id).map(|m| {
                let update = m.message.poll_update_message.as_option().expect("a poll update").clone();
                (m.info.source.sender.to_non_ad(), update)
            }),
            _ => None,
        })
        .await;
    assert_eq!(voter.user, BOB_DIGITS);
    assert_eq!(
        update.poll_creation_message_key.as_option().and_then(|k| k.id.as_deref()),
        Some(poll.message_id.as_str())
    );
    let vote = update.vote.as_option().expect("an encrypted vote");
    let ciphertext = PollVoteCiphertext {
        enc_payload: vote.enc_payload.as_deref().unwrap(),
        enc_iv: vote.enc_iv.as_deref().unwrap(),
    };
    let me = client.pn().unwrap().to_non_ad();
    let tally = client
        .polls()
        .aggregate_votes(&options, &[(&voter, ciphertext)], &secret, &poll.message_id, &me)
        .await
        .expect("Alice decrypts the vote");
    let chosen: Vec<(&str, usize)> = tally.iter().map(|o| (o.name.as_str(), o.voters.len())).collect();
    assert_eq!(chosen, [("Red", 0), ("Green", 1), ("Blue", 0)]);

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
