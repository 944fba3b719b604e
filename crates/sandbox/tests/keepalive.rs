//! An idle client stays connected: its keepalive pings (every 15–30 s) are answered
//! and its dead-socket check never fires. Slow, so not run by default:
//! `cargo test -p wagate-sandbox --test keepalive -- --ignored`.

mod common;

use std::time::Duration;

use whatsapp_rust::types::events::Event;

use common::{pair_client, start_sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "takes over a minute: waits through several keepalive rounds"]
async fn an_idle_client_stays_connected() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    let mut alice = pair_client(&sandbox, "+15550001").await;
    let before = alice.bot.client().stats();
    let seen_before = alice.events.seen.len();

    // Idle long enough for two keepalive rounds and the 20 s dead-socket check.
    tokio::time::sleep(Duration::from_secs(65)).await;

    let after = alice.bot.client().stats();
    assert!(after.frames_received > before.frames_received, "the keepalive pings were answered");
    assert_eq!(after.reconnects, before.reconnects, "no reconnect while idle");
    assert!(alice.bot.client().is_connected());
    alice.events.collect_pending();
    let since = &alice.events.seen[seen_before..];
    assert!(
        !since.iter().any(|e| matches!(&**e, Event::Disconnected(_) | Event::Connected(_))),
        "the connection was interrupted: {since:?}"
    );
    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
