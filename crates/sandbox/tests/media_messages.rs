//! Media messages between a real client under test (Alice) and a simulated contact
//! (Bob): an image Alice uploads and sends is downloaded and decrypted by Bob's own
//! client, and an image Bob sends is downloaded by Alice's client, byte for byte.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wacore::download::MediaType;
use wagate_sandbox::{NewContact, SandboxHandle, media_in};
use whatsapp_rust::Jid;
use whatsapp_rust::media::{ImageOptions, image_message};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::upload::UploadOptions;

use common::{PairedClient, assert_refused, pair_client, start_sandbox, wait_for_inbox};

const ALICE: &str = "+15550001";
const BOB: &str = "+15550002";
const BOB_DIGITS: &str = "15550002";

fn picture(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 257) as u8 ^ seed).collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn alice_and_bob(sandbox: &SandboxHandle) -> PairedClient {
    sandbox.create_account(ALICE, "Alice").unwrap();
    let (alice, bob) = tokio::join!(pair_client(sandbox, ALICE), sandbox.create_contact(NewContact::new(BOB, "Bob")));
    bob.expect("contact Bob is created and connected");
    alice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_to_a_contact_is_downloaded_and_decrypted_by_it() {
    let sandbox = start_sandbox().await;
    let alice = alice_and_bob(&sandbox).await;
    let client = alice.bot.client();

    let plaintext = picture(200 * 1024 + 3, 0x5a);
    let upload = client.upload(plaintext.clone(), MediaType::Image, UploadOptions::new()).await.expect("upload");
    let options = ImageOptions { caption: Some("a picture".into()), ..Default::default() };
    let sent = client.send_message(Jid::pn(BOB_DIGITS), image_message(upload, options)).await.expect("send");

    let inbox = wait_for_inbox(&sandbox, BOB, "the image, downloaded", |inbox| {
        inbox.iter().any(|m| m.id == sent.message_id && (m.media_sha256.is_some() || m.media_error.is_some()))
    })
    .await;
    let got = inbox.iter().find(|m| m.id == sent.message_id).unwrap();
    assert_eq!(got.media_error, None);
    assert_eq!(got.kind, "image");
    assert_eq!(got.caption.as_deref(), Some("a picture"));
    assert_eq!(got.mimetype.as_deref(), Some("image/jpeg"));
    assert_eq!(got.media_sha256.as_deref(), Some(hex_sha256(&plaintext).as_str()));
    assert_eq!(got.media_len, Some(plaintext.len() as u64));
    assert_eq!(sandbox.contact_message_media(BOB, &sent.message_id).unwrap(), plaintext);

    // The same through the admin API.
    let http = reqwest::Client::new();
    let base = format!("{}/sandbox/contacts/{BOB_DIGITS}/messages", sandbox.http_url());
    let list: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    let entry = list.as_array().unwrap().iter().find(|m| m["id"] == sent.message_id.as_str()).unwrap();
    assert_eq!(entry["kind"], "image");
    assert_eq!(entry["media_sha256"], hex_sha256(&plaintext));
    assert_eq!(entry["media_len"], plaintext.len());
    let media = http.get(format!("{base}/{}/media", sent.message_id)).send().await.unwrap();
    assert_eq!(media.status(), 200);
    assert_eq!(media.headers()["content-type"], "image/jpeg");
    assert_eq!(media.bytes().await.unwrap(), plaintext);
    let missing = http.get(format!("{base}/NOSUCHID/media")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_sends_an_image_the_client_downloads() {
    let sandbox = start_sandbox().await;
    let mut alice = alice_and_bob(&sandbox).await;
    let client = alice.bot.client();

    // Through the Rust API ...
    let first = picture(30_000, 0x11);
    let id = sandbox.contact_send_image(BOB, ALICE, first.clone(), Some("from Bob"), None).await.expect("Bob sends");
    // ... and through the admin API.
    let second = picture(12_345, 0x22);
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/contacts/{BOB_DIGITS}/messages", sandbox.http_url());
    let body = json!({ "to": ALICE, "image": { "data": STANDARD.encode(&second), "mimetype": "image/png" } });
    let answer = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let second_id = answer.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    for (id, plaintext, caption, mimetype) in
        [(id, first, Some("from Bob"), "image/jpeg"), (second_id, second, None, "image/png")]
    {
        let pick = |e: &Event| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).map(|m| m.message.clone()),
            _ => None,
        };
        // An earlier wait may already have passed over it.
        let message = match alice.events.seen.iter().find_map(|e| pick(e)) {
            Some(message) => message,
            None => alice.events.wait_for("Bob's image", pick).await,
        };
        let image = message.image_message.as_option().expect("an image message");
        assert_eq!(image.caption.as_deref(), caption);
        assert_eq!(image.mimetype.as_deref(), Some(mimetype));
        let media = media_in(&message).expect("media");
        assert_eq!(client.download(media).await.expect("download"), plaintext);
    }

    // Bad requests are problem details.
    assert_refused(
        &url,
        &[
            json!({ "to": ALICE, "image": { "data": "%%%" } }),
            json!({ "to": ALICE }),
            json!({ "to": ALICE, "text": "hi", "image": { "data": "aGk=" } }),
        ],
    )
    .await;

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_queued_while_the_contact_was_offline_is_downloaded_when_it_returns() {
    let sandbox = start_sandbox().await;
    let alice = alice_and_bob(&sandbox).await;
    let client = alice.bot.client();
    sandbox.set_contact_online(BOB, false).await.expect("Bob goes offline");

    let plaintext = picture(50_000, 0x33);
    let upload = client.upload(plaintext.clone(), MediaType::Image, UploadOptions::new()).await.expect("upload");
    let message = image_message(upload, ImageOptions::default());
    let sent = client.send_message(Jid::pn(BOB_DIGITS), message).await.expect("send");
    assert!(sandbox.contact_messages(BOB).unwrap().is_empty());

    sandbox.set_contact_online(BOB, true).await.expect("Bob comes back");
    let inbox = wait_for_inbox(&sandbox, BOB, "the queued image, downloaded", |inbox| {
        inbox.iter().any(|m| m.id == sent.message_id && (m.media_sha256.is_some() || m.media_error.is_some()))
    })
    .await;
    let got = inbox.iter().find(|m| m.id == sent.message_id).unwrap();
    assert_eq!((got.kind.as_str(), got.media_error.as_deref()), ("image", None));
    assert_eq!(got.media_sha256.as_deref(), Some(hex_sha256(&plaintext).as_str()));
    assert_eq!(sandbox.contact_message_media(BOB, &sent.message_id).unwrap(), plaintext);

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
