//! The sandbox's media servers against a real client: `w:m` media_conn, upload to
//! `/mms/{type}/{token}`, download from the direct path, with the client's own
//! encryption and MAC check end to end.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use wacore::download::MediaType;
use wagate_sandbox::media_in;
use waproto::whatsapp as wa;
use whatsapp_rust::download::DownloadParams;
use whatsapp_rust::media::{ImageOptions, image_message};
use whatsapp_rust::upload::UploadOptions;

use common::{pair_client, start_sandbox};

/// Not a real JPEG, but any bytes do: the servers only ever see ciphertext.
fn picture(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uploaded_image_downloads_and_decrypts_to_the_same_bytes() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let client = alice.bot.client();

    let plaintext = picture(300 * 1024 + 5);
    let upload =
        client.upload(plaintext.clone(), MediaType::Image, UploadOptions::new()).await.expect("upload succeeds");
    assert!(upload.direct_path.starts_with("/v/"), "direct path: {}", upload.direct_path);
    let blobs = sandbox.media_blobs();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].direct_path, upload.direct_path);
    assert_eq!(blobs[0].media_type, "image");
    assert_eq!(blobs[0].token, URL_SAFE_NO_PAD.encode(upload.file_enc_sha256));
    let stored = sandbox.media_blob(&upload.direct_path).unwrap();
    assert_ne!(&stored[..plaintext.len().min(stored.len())], &plaintext[..], "the servers hold ciphertext");
    assert_eq!(Sha256::digest(&stored)[..], upload.file_enc_sha256[..]);

    // The client downloads it back from the message it would send ...
    let message = image_message(upload.clone(), ImageOptions::default());
    let image = message.image_message.as_option().expect("an image message");
    assert_eq!(client.download(image).await.expect("download succeeds"), plaintext);
    // ... and from the raw fields.
    let params = DownloadParams::encrypted(
        upload.direct_path.clone(),
        &upload.media_key,
        &upload.file_sha256,
        &upload.file_enc_sha256,
        upload.file_length,
        MediaType::Image,
    );
    assert_eq!(client.download_from_params(&params).await.expect("download succeeds"), plaintext);
    // A contact's phone reads the same message, also when it comes wrapped.
    assert_eq!(sandbox.fetch_media(image).expect("the contact decrypts it"), plaintext);
    let wrapped = wa::Message {
        ephemeral_message: buffa::MessageField::some(wa::message::FutureProofMessage {
            message: buffa::MessageField::some(message.clone()),
        }),
        ..Default::default()
    };
    let found = media_in(&wrapped).expect("media_in finds the image");
    assert_eq!(found.direct_path(), Some(upload.direct_path.as_str()));
    assert_eq!(client.download(found).await.expect("download succeeds"), plaintext);
    assert!(media_in(&wa::Message { conversation: Some("hi".into()), ..Default::default() }).is_none());

    // The other way: a contact's phone stores a file, the client downloads it.
    let from_contact = picture(4321);
    let stored = sandbox.store_media(&from_contact, MediaType::Image).unwrap();
    let sent = stored.image_message("image/jpeg", Some("hi".into()));
    assert_eq!(client.download(&sent).await.expect("download succeeds"), from_contact);

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_video_is_checked_for_resume_and_stored_once() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let client = alice.bot.client();

    // 6 MiB: past the client's 5 MiB threshold for asking `resume=1` first, and past
    // axum's default 2 MB body limit.
    let plaintext = picture(6 * 1024 * 1024);
    let first =
        client.upload(plaintext.clone(), MediaType::Video, UploadOptions::new()).await.expect("upload succeeds");
    let again = UploadOptions::new().with_media_key(first.media_key);
    let second = client.upload(plaintext.clone(), MediaType::Video, again).await.expect("re-upload succeeds");
    assert_eq!(second.direct_path, first.direct_path, "the servers already had it");
    assert_eq!(sandbox.media_blobs().len(), 1);
    assert_eq!(sandbox.media_blobs()[0].media_type, "video");

    let params = DownloadParams::encrypted(
        first.direct_path.clone(),
        &first.media_key,
        &first.file_sha256,
        &first.file_enc_sha256,
        first.file_length,
        MediaType::Video,
    );
    assert!(client.download_from_params(&params).await.expect("download succeeds") == plaintext);

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tampered_blob_fails_the_clients_mac_check() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let client = alice.bot.client();
    let plaintext = picture(10_000);
    let upload =
        client.upload(plaintext.clone(), MediaType::Image, UploadOptions::new()).await.expect("upload succeeds");

    // Someone flips one bit of the ciphertext and stores it as a blob of its own.
    let mut blob = sandbox.media_blob(&upload.direct_path).unwrap();
    blob[100] ^= 0x01;
    let auth = client.refresh_media_conn(false).await.expect("media conn").auth;
    let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&blob));
    let answer = post_blob(&sandbox, &auth, &token, blob.clone()).await;
    assert_eq!(answer.status(), 200);
    let json: serde_json::Value = answer.json().await.unwrap();
    let tampered_path = json["direct_path"].as_str().expect("a direct path").to_owned();

    let params = DownloadParams::encrypted(
        tampered_path,
        &upload.media_key,
        &upload.file_sha256,
        &Sha256::digest(&blob),
        upload.file_length,
        MediaType::Image,
    );
    let error = client.download_from_params(&params).await.expect_err("a tampered blob must not decrypt");
    assert!(format!("{error:#}").contains("MAC"), "fails the MAC check: {error:#}");

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_uploads_and_downloads_are_refused() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let client = alice.bot.client();
    let auth = client.refresh_media_conn(false).await.expect("media conn").auth;
    let conn = client.refresh_media_conn(false).await.unwrap();
    assert_eq!(conn.hosts.len(), 1);
    assert_eq!(conn.hosts[0].hostname, sandbox.local_addr().to_string());
    assert!(conn.ttl > 0 && conn.auth_ttl.is_some_and(|ttl| ttl > 0));

    let body = picture(2048);
    let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&body));
    let other_token = URL_SAFE_NO_PAD.encode(Sha256::digest(b"something else"));
    assert_eq!(post_blob(&sandbox, &auth, &other_token, body.clone()).await.status(), 400, "wrong token");
    assert_eq!(post_blob(&sandbox, "not-the-auth", &token, body.clone()).await.status(), 401, "wrong auth");
    assert!(sandbox.media_blobs().is_empty());

    sandbox.set_max_media_bytes(1024);
    assert_eq!(post_blob(&sandbox, &auth, &token, body.clone()).await.status(), 413, "too large");
    client.upload(body.clone(), MediaType::Image, UploadOptions::new()).await.expect_err("the client's upload fails");
    assert!(sandbox.media_blobs().is_empty());
    sandbox.set_max_media_bytes(wagate_sandbox::DEFAULT_MAX_BLOB_BYTES);
    assert_eq!(post_blob(&sandbox, &auth, &token, body.clone()).await.status(), 200);

    let http = reqwest::Client::new();
    let unknown = format!("{}/v/t62.7118-24/nothing.enc?auth={auth}&token={token}", sandbox.http_url());
    assert_eq!(http.get(unknown).send().await.unwrap().status(), 404);
    let path = &sandbox.media_blobs()[0].direct_path;
    let without_auth = format!("{}{path}?token={token}", sandbox.http_url());
    assert_eq!(http.get(without_auth).send().await.unwrap().status(), 401);
    let fine = format!("{}{path}?auth={auth}&token={token}", sandbox.http_url());
    assert_eq!(http.get(fine).send().await.unwrap().bytes().await.unwrap(), body);

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

async fn post_blob(
    sandbox: &wagate_sandbox::SandboxHandle,
    auth: &str,
    token: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let url = format!("{}/mms/image/{token}?auth={auth}&token={token}", sandbox.http_url());
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("the media host answers")
}
