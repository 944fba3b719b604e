//! Faults on demand, and what a real client makes of them.

mod common;

use std::time::Duration;

use serde_json::json;
use wagate_sandbox::{Fault, SandboxError, SandboxHandle};
use whatsapp_rust::types::events::{Event, TempBanReason};

use common::{Events, PairedClient, pair_client, start_client, start_sandbox};

async fn connected(events: &mut Events, what: &str) {
    events.wait_for(what, |e| matches!(e, Event::Connected(_)).then_some(())).await;
}

fn device_of(client: &PairedClient) -> String {
    client.bot.client().pn().expect("paired").to_string()
}

/// The sandbox notices a closed connection a moment after the client closed it.
async fn wait_offline(sandbox: &SandboxHandle, phone: &str, device: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sandbox.account(phone).unwrap().devices.iter().any(|d| d.jid == device && d.online) {
        assert!(tokio::time::Instant::now() < deadline, "{device} still online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_and_drop_reconnect_replaced_stops() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let mut alice = pair_client(&sandbox, "+15550001").await;
    let device = device_of(&alice);

    sandbox.inject_fault(&device, Fault::Restart).await.unwrap();
    connected(&mut alice.events, "connected after 515").await;
    assert!(!alice.events.saw(|e| matches!(e, Event::Disconnected(_))), "515 is an expected disconnect");

    sandbox.inject_fault(&device, Fault::Drop).await.unwrap();
    alice.events.wait_for("disconnected", |e| matches!(e, Event::Disconnected(_)).then_some(())).await;
    connected(&mut alice.events, "connected after the drop").await;

    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/devices/{device}/fault", sandbox.http_url());
    let replaced = http.post(&url).json(&json!({"kind": "replaced"})).send().await.unwrap();
    assert_eq!(replaced.status(), 204);
    alice.events.wait_for("stream replaced", |e| matches!(e, Event::StreamReplaced(_)).then_some(())).await;

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlink_logs_the_device_out_for_good() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let mut alice = pair_client(&sandbox, "+15550001").await;
    let device = device_of(&alice);

    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/devices/{device}/fault", sandbox.http_url());
    let unlinked = http.post(&url).json(&json!({"kind": "unlink"})).send().await.unwrap();
    assert_eq!(unlinked.status(), 204);
    let on_connect = alice
        .events
        .wait_for("logged out", |e| match e {
            Event::LoggedOut(l) => Some(l.on_connect),
            _ => None,
        })
        .await;
    assert!(!on_connect, "unlinked while connected");
    assert!(sandbox.account("+15550001").unwrap().devices.iter().all(|d| d.jid != device));
    alice.bot.shutdown().await;

    // Its stored credentials no longer open a session.
    let (bot, mut events) = start_client(&sandbox, alice.backend.clone()).await;
    let on_connect = events
        .wait_for("logged out at login", |e| match e {
            Event::LoggedOut(l) => Some(l.on_connect),
            _ => None,
        })
        .await;
    assert!(on_connect);
    bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ban_is_reported_now_and_at_every_login() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let mut alice = pair_client(&sandbox, "+15550001").await;
    let device = device_of(&alice);

    sandbox.inject_fault(&device, Fault::Ban { expire_secs: 600 }).await.unwrap();
    let (code, expire) = alice
        .events
        .wait_for("temporary ban", |e| match e {
            Event::TemporaryBan(b) => Some((b.code.clone(), b.expire)),
            _ => None,
        })
        .await;
    assert_eq!(code, TempBanReason::SentToTooManyPeople);
    assert_eq!(expire.num_seconds(), 600);
    alice.bot.shutdown().await;
    wait_offline(&sandbox, "+15550001", &device).await;
    let offline = sandbox.inject_fault(&device, Fault::Drop).await;
    assert!(matches!(offline, Err(SandboxError::DeviceOffline(_))), "{offline:?}");

    let (bot, mut events) = start_client(&sandbox, alice.backend.clone()).await;
    let expire = events
        .wait_for("temporary ban at login", |e| match e {
            Event::TemporaryBan(b) => Some(b.expire),
            _ => None,
        })
        .await;
    assert!(
        expire > whatsapp_rust::chrono::Duration::zero() && expire <= whatsapp_rust::chrono::Duration::seconds(600)
    );
    bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_on_unknown_devices_are_refused() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let http = reqwest::Client::new();
    let fault = |jid: &str| format!("{}/sandbox/devices/{jid}/fault", sandbox.http_url());

    let unknown = http.post(fault("15550001:7@s.whatsapp.net")).json(&json!({"kind": "drop"})).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let phone = http.post(fault("15550001@s.whatsapp.net")).json(&json!({"kind": "drop"})).send().await.unwrap();
    assert_eq!(phone.status(), 422, "the phone itself is not a companion");
    let kind = http.post(fault("15550001:1@s.whatsapp.net")).json(&json!({"kind": "meteor"})).send().await.unwrap();
    assert_eq!(kind.status(), 422);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn latency_holds_every_answer_until_it_is_taken_away() {
    use wacore::iq::keepalive::KeepaliveSpec;

    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let device = device_of(&alice);
    let client = alice.bot.client();

    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/devices/{device}/fault", sandbox.http_url());
    let slow = http.post(&url).json(&json!({"kind": "latency", "ms": 1500})).send().await.unwrap();
    assert_eq!(slow.status(), 204);
    let started = tokio::time::Instant::now();
    client.execute(KeepaliveSpec::new()).await.expect("a slow answer still comes");
    assert!(started.elapsed() >= Duration::from_millis(1500), "answered after {:?}", started.elapsed());

    // The delay is a property of the network, not an error: taking it away is enough.
    sandbox.inject_fault(&device, Fault::Latency { ms: 0 }).await.unwrap();
    client.execute(KeepaliveSpec::new()).await.expect("answered");

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
