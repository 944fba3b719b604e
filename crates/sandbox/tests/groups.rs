//! Groups: a real client (Alice) creates a group with two simulated contacts (Bob,
//! Carol), sends a text that both decrypt, adds Dave and removes Carol; from then on
//! Carol gets nothing while the others do.

mod common;

use std::time::Duration;

use wacore::proto_helpers::MessageExt as _;
use wagate_sandbox::{NewContact, SandboxHandle};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::{
    GroupCreateOptions, GroupDescription, GroupParticipantOptions, GroupSubject, Jid, PreviousDescription,
};

use common::{pair_client, start_sandbox, wait_for_inbox};

const ALICE: &str = "+15550001";
const CONTACTS: [(&str, &str, &str); 3] =
    [("+15550002", "15550002", "Bob"), ("+15550003", "15550003", "Carol"), ("+15550004", "15550004", "Dave")];

async fn wait_group_text(sandbox: &SandboxHandle, phone: &str, group: &Jid, text: &str) {
    let inbox =
        wait_for_inbox(sandbox, phone, text, |inbox| inbox.iter().any(|m| m.text.as_deref() == Some(text))).await;
    let got = inbox.iter().find(|m| m.text.as_deref() == Some(text)).unwrap();
    assert_eq!(got.chat, group.to_string(), "{got:?}");
    assert_eq!(got.from, "15550001@s.whatsapp.net", "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_of_three_gets_texts_and_follows_membership_changes() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(ALICE, "Alice").unwrap();
    let contact = |(phone, _, name): (&str, &str, &str)| sandbox.create_contact(NewContact::new(phone, name));
    let (mut alice, bob, carol, dave) =
        tokio::join!(pair_client(&sandbox, ALICE), contact(CONTACTS[0]), contact(CONTACTS[1]), contact(CONTACTS[2]));
    for created in [bob, carol, dave] {
        created.expect("contact created");
    }
    let client = alice.bot.client();

    let members: Vec<GroupParticipantOptions> =
        CONTACTS[..2].iter().map(|(_, digits, _)| GroupParticipantOptions::new(Jid::pn(*digits))).collect();
    let options = GroupCreateOptions::builder().subject("Sandbox friends").participants(members).build();
    let created = client.groups().create_group(options).await.expect("group created");
    let group = created.metadata.id.clone();
    assert_eq!(group.server, "g.us", "{group}");
    assert_eq!(created.metadata.participants.len(), 3, "{:?}", created.metadata.participants);
    let listed = client.groups().get_participating().await.expect("participating");
    assert!(listed.contains_key(&group), "{listed:?}");

    let first = client.send_text(group.clone(), "hello group").await.expect("group send");
    let acked = alice
        .events
        .wait_for("server ack", |e| match e {
            Event::ServerAck(ack) if ack.id == first.message_id => Some(ack.error.clone()),
            _ => None,
        })
        .await;
    assert_eq!(acked, None, "the server must not nack a group message");
    for (phone, _, _) in &CONTACTS[..2] {
        wait_group_text(&sandbox, phone, &group, "hello group").await;
    }
    // Each member's delivery receipt comes back from the group, naming the member.
    let mut receipted = std::collections::BTreeSet::new();
    while receipted.len() < 2 {
        let who = alice
            .events
            .wait_for("delivery receipts", |e| match e {
                Event::Receipt(r) if r.message_ids.contains(&first.message_id) => {
                    assert_eq!(r.source.chat, group, "{r:?}");
                    Some(r.source.sender.user.to_string())
                }
                _ => None,
            })
            .await;
        receipted.insert(who);
    }
    assert_eq!(receipted.into_iter().collect::<Vec<_>>(), ["15550002", "15550003"]);

    let (dave, carol) = (Jid::pn(CONTACTS[2].1), Jid::pn(CONTACTS[1].1));
    let added = client.groups().add_participants(group.clone(), &[dave]).await.expect("add");
    assert!(added.iter().all(|r| r.is_ok()), "{added:?}");
    let removed = client.groups().remove_participants(group.clone(), &[carol]).await.expect("remove");
    assert!(removed.iter().all(|r| r.is_ok()), "{removed:?}");
    let metadata = client.groups().get_metadata(&group).await.expect("metadata");
    let users: Vec<String> = metadata.participants.iter().map(|p| p.jid.user.to_string()).collect();
    assert_eq!(users, ["15550001", "15550002", "15550004"]);

    // Dave is offline when it is sent: it waits for him, sender key included.
    sandbox.set_contact_online(CONTACTS[2].0, false).await.unwrap();
    client.send_text(group.clone(), "without Carol").await.expect("second group send");
    wait_group_text(&sandbox, CONTACTS[0].0, &group, "without Carol").await;
    sandbox.set_contact_online(CONTACTS[2].0, true).await.unwrap();
    wait_group_text(&sandbox, CONTACTS[2].0, &group, "without Carol").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let carols = sandbox.contact_messages(CONTACTS[1].0).unwrap();
    assert!(carols.iter().all(|m| m.text.as_deref() != Some("without Carol")), "{carols:?}");
    // Carol heard she was removed and, like everyone, acknowledged every notification.
    for contact in sandbox.contacts().await {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while sandbox.pending_stanzas(&contact.device).unwrap() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "{} left stanzas unacknowledged", contact.phone);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

/// Settings, invite codes, joining, admin rights and leaving, between two real
/// clients (Alice and Bob) and a simulated contact (Carol).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_settings_invites_admins_and_leaving() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(ALICE, "Alice").unwrap();
    sandbox.create_account(CONTACTS[0].0, "Bob").unwrap();
    let (alice, bob, carol) = tokio::join!(
        pair_client(&sandbox, ALICE),
        pair_client(&sandbox, CONTACTS[0].0),
        sandbox.create_contact(NewContact::new(CONTACTS[1].0, "Carol"))
    );
    let (mut alice, mut bob) = (alice, bob);
    carol.expect("Carol is created");
    let (a, b) = (alice.bot.client(), bob.bot.client());

    let options = GroupCreateOptions::builder()
        .subject("Plans")
        .participants(vec![GroupParticipantOptions::new(Jid::pn(CONTACTS[1].1))])
        .build();
    let group = a.groups().create_group(options).await.expect("created").metadata.id;
    a.groups().set_subject(group.clone(), GroupSubject::new("New plans").unwrap()).await.expect("subject");
    let description = GroupDescription::new("Saturday").unwrap();
    a.groups().set_description(group.clone(), Some(description), PreviousDescription::Absent).await.expect("desc");
    let stale = GroupDescription::new("Sunday").unwrap();
    let conflict = a.groups().set_description(group.clone(), Some(stale), PreviousDescription::Id("stale")).await;
    assert!(conflict.is_err(), "a change against a stale description conflicts");
    a.groups().set_locked(group.clone(), true).await.expect("locked");
    a.groups().set_announce(group.clone(), true).await.expect("announcement");
    a.groups().set_announce(group.clone(), false).await.expect("not announcement");
    let link = a.groups().get_invite_link(group.clone(), false).await.expect("invite link");
    let revoked = a.groups().get_invite_link(group.clone(), true).await.expect("revoked link");
    assert_ne!(link, revoked);
    let code = revoked.rsplit('/').next().unwrap();

    let old_code = link.rsplit('/').next().unwrap();
    assert!(b.groups().join_with_invite_code(old_code).await.is_err(), "a revoked code is dead");
    let info = b.groups().get_invite_info(code).await.expect("invite info");
    assert_eq!(info.subject, "New plans");
    let joined = b.groups().join_with_invite_code(code).await.expect("join");
    assert_eq!(joined.group_jid(), &group);
    alice
        .events
        .wait_for("Bob joining", |e| matches!(e, Event::GroupUpdate(u) if u.group_jid == group).then_some(()))
        .await;
    let seen_by_bob = b.groups().get_metadata(&group).await.expect("Bob's metadata");
    assert_eq!(seen_by_bob.subject, "New plans");
    assert_eq!(seen_by_bob.description.as_deref(), Some("Saturday"));
    assert!(seen_by_bob.is_locked && !seen_by_bob.is_announcement, "{seen_by_bob:?}");
    assert_eq!(seen_by_bob.participants.len(), 3);

    let renamed = b.groups().set_subject(group.clone(), GroupSubject::new("Bob's plans").unwrap()).await;
    assert!(renamed.is_err(), "a member may not edit a locked group");
    // Bob's first text hands his sender key to everyone.
    b.send_text(group.clone(), "hi all").await.expect("Bob sends");
    let bobs_text = |text: &'static str| {
        move |e: &Event| match e {
            Event::Messages(batch) => batch.iter().any(|m| m.message.text_content() == Some(text)).then_some(()),
            _ => None,
        }
    };
    alice.events.wait_for("Bob's group text", bobs_text("hi all")).await;
    wait_for_inbox(&sandbox, CONTACTS[1].0, "Bob's text", |i| !i.is_empty()).await;

    // In an announcement group only admins send: the server nacks Bob's text.
    a.groups().set_announce(group.clone(), true).await.expect("announcement");
    let refused = b.send_text(group.clone(), "may I?").await.expect("the send completes; the ack refuses it");
    let nack = bob
        .events
        .wait_for("the nack", |e| match e {
            Event::ServerAck(ack) if ack.id == refused.message_id => Some(ack.error.clone()),
            _ => None,
        })
        .await;
    assert_eq!(nack.as_deref(), Some("403"));
    a.groups().promote_participants(&group, &[Jid::pn(CONTACTS[0].1)]).await.expect("promote");
    b.groups().set_subject(group.clone(), GroupSubject::new("Bob's plans").unwrap()).await.expect("admin renames");

    // An admin may send in an announcement group. The refused text reached nobody:
    // had it been delivered, Carol (who holds Bob's sender key) would show it.
    b.send_text(group.clone(), "as admin").await.expect("Bob sends as admin");
    alice.events.wait_for("Bob's admin text", bobs_text("as admin")).await;
    let inbox = wait_for_inbox(&sandbox, CONTACTS[1].0, "Bob's admin text", |i| i.len() >= 2).await;
    let texts: Vec<_> = inbox.iter().map(|m| (m.from.as_str(), m.text.as_deref())).collect();
    let bob_jid = "15550002@s.whatsapp.net";
    assert_eq!(texts, [(bob_jid, Some("hi all")), (bob_jid, Some("as admin"))], "{inbox:?}");

    b.groups().leave(group.clone()).await.expect("leave");
    let left = a.groups().get_metadata(&group).await.expect("metadata");
    assert_eq!(left.subject, "Bob's plans");
    assert_eq!(left.participants.len(), 2, "{left:?}");
    assert!(b.groups().get_metadata(&group).await.is_err(), "Bob is no longer a member");
    let listed = b.groups().get_participating().await.expect("participating");
    assert!(listed.is_empty(), "{listed:?}");

    alice.bot.shutdown().await;
    bob.bot.shutdown().await;
    sandbox.shutdown().await;
}

/// The sender's own other device gets a copy of its group message too, and can send
/// into the group itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_senders_other_device_follows_the_group() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(ALICE, "Alice").unwrap();
    let (phone, laptop, bob) = tokio::join!(
        pair_client(&sandbox, ALICE),
        pair_client(&sandbox, ALICE),
        sandbox.create_contact(NewContact::new(CONTACTS[0].0, "Bob"))
    );
    bob.expect("Bob is created");
    let (mut phone, mut laptop) = (phone, laptop);
    let options = GroupCreateOptions::builder()
        .subject("Two devices")
        .participants(vec![GroupParticipantOptions::new(Jid::pn(CONTACTS[0].1))])
        .build();
    let group = phone.bot.client().groups().create_group(options).await.expect("created").metadata.id;

    let sent = phone.bot.client().send_text(group.clone(), "from my phone").await.expect("send");
    let copy = wait_own_copy(&mut laptop, &sent.message_id).await;
    assert_eq!(copy, (true, group.to_string(), Some("from my phone".to_owned())));
    wait_group_text(&sandbox, CONTACTS[0].0, &group, "from my phone").await;

    let sent = laptop.bot.client().send_text(group.clone(), "from my laptop").await.expect("send");
    let copy = wait_own_copy(&mut phone, &sent.message_id).await;
    assert_eq!(copy, (true, group.to_string(), Some("from my laptop".to_owned())));
    wait_group_text(&sandbox, CONTACTS[0].0, &group, "from my laptop").await;

    phone.bot.shutdown().await;
    laptop.bot.shutdown().await;
    sandbox.shutdown().await;
}

async fn wait_own_copy(device: &mut common::PairedClient, id: &str) -> (bool, String, Option<String>) {
    device
        .events
        .wait_for("the copy of Alice's own group message", |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).map(|m| {
                let source = &m.info.source;
                (source.is_from_me, source.chat.to_string(), m.message.text_content().map(str::to_owned))
            }),
            _ => None,
        })
        .await
}
