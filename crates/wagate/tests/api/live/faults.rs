//! What WhatsApp does to a session, and what the session does about it.

use std::time::Duration;

use wagate_engine_whatsapp::{EngineConfig, ReplacedPolicy};
use wagate_sandbox::Fault;

use super::{spawn_live, spawn_live_with};

#[tokio::test]
async fn an_unlinked_session_is_logged_out_for_good() {
    let live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000041", "Shop").await;

    live.sandbox.inject_fault(&device.jid, Fault::Unlink).await.unwrap();
    let session = live.wait_for_session("shop", "logged_out").await;
    assert!(session["status_reason"].as_str().unwrap().contains("unlinked"), "{session}");

    // No reconnect loop: it stays logged out and never comes back to the sandbox.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let session = live.wait_for_session("shop", "logged_out").await;
    assert_eq!(session["status"], "logged_out");
    let account = live.sandbox.account("+4915110000041").unwrap();
    assert_eq!(account.devices.len(), 1, "only the phone is left: {account:?}");
    assert_eq!(live.engine_state_rows().await, 0, "the void credentials are deleted");
}

#[tokio::test]
async fn a_restart_required_reconnects_at_once() {
    let live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000051", "Shop").await;
    live.contact("+4915110000052", "Bob", None).await;

    live.sandbox.inject_fault(&device.jid, Fault::Restart).await.unwrap();
    let back = tokio::time::Instant::now();
    super::within(Duration::from_secs(5), "the device is back", || async {
        (live.online("+4915110000051", &device)).then_some(())
    })
    .await;
    assert!(back.elapsed() < Duration::from_secs(5));
    let accepted = live.send_text("shop", "+4915110000052", "after the restart").await;
    live.wait_for_message(accepted["id"].as_str().unwrap(), "delivered").await;
}

#[tokio::test]
async fn a_dropped_connection_comes_back_and_the_queue_resumes() {
    let live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000061", "Shop").await;
    live.contact("+4915110000062", "Bob", None).await;

    live.sandbox.inject_fault(&device.jid, Fault::Drop).await.unwrap();
    let accepted = live.send_text("shop", "+4915110000062", "sent while reconnecting").await;
    live.wait_for_message(accepted["id"].as_str().unwrap(), "delivered").await;
    live.wait_for_session("shop", "connected").await;
}

#[tokio::test]
async fn replaced_sessions_reconnect_a_bounded_number_of_times() {
    let policy =
        ReplacedPolicy { window: Duration::from_secs(4), max_per_window: 2, first_delay: Duration::from_millis(200) };
    let live = spawn_live_with(|engine| engine.replaced = policy).await;
    let (_, device) = live.linked("shop", "+4915110000071", "Shop").await;

    // Another client takes the session over each time it is back, for ten seconds.
    let start = tokio::time::Instant::now();
    let mut takeovers = Vec::new();
    while start.elapsed() < Duration::from_secs(10) {
        if live.online("+4915110000071", &device)
            && live.sandbox.inject_fault(&device.jid, Fault::Replaced).await.is_ok()
        {
            takeovers.push(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first takeover was of the linked connection; each later one found a reconnect.
    // A takeover is seen once the reconnect has logged in, which takes a varying part
    // of a second after the reconnect began: the window is checked with that slack.
    let reconnects = &takeovers[1..];
    let window = policy.window - Duration::from_secs(1);
    for (i, at) in reconnects.iter().enumerate() {
        let in_window = reconnects[i..].iter().take_while(|t| **t < *at + window).count();
        assert!(in_window <= policy.max_per_window, "{in_window} reconnects within {window:?}: {takeovers:?}");
    }
    assert!(reconnects.len() >= 2, "it does reconnect: {takeovers:?}");

    // While it waits, the session says why.
    live.wait_for_session("shop", "connected").await;
    live.sandbox.inject_fault(&device.jid, Fault::Replaced).await.unwrap();
    let session = live.wait_for_session("shop", "reconnecting").await;
    assert!(session["status_reason"].as_str().unwrap().contains("took over"), "{session}");
}

#[tokio::test]
async fn a_temporary_ban_is_shown_until_it_ends() {
    let live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000081", "Shop").await;

    live.sandbox.inject_fault(&device.jid, Fault::Ban { expire_secs: 3 }).await.unwrap();
    let session = live.wait_for_session("shop", "banned").await;
    assert!(session["status_reason"].as_str().unwrap().contains("reconnects at"), "{session}");
    live.wait_for_session("shop", "connected").await;
}

#[tokio::test]
async fn a_session_that_cannot_reach_whatsapp_says_so_instead_of_starting_forever() {
    // A port nobody listens on: every connection attempt is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let live = spawn_live_with(|engine| {
        *engine = EngineConfig {
            unreachable_after: Duration::from_millis(500),
            ..EngineConfig::sandbox(format!("http://{closed}"))
        };
    })
    .await;

    live.app.create_session("shop").await;
    let session = live.wait_for_session("shop", "reconnecting").await;
    assert!(session["status_reason"].as_str().unwrap().contains("cannot be reached"), "{session}");
}
