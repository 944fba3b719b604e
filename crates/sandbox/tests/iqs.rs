//! The sandbox's IQ answers, read back by a real client's own request specs and parsers.

mod common;

use std::time::Duration;

use wacore::iq::keepalive::KeepaliveSpec;
use wacore::iq::prekeys::{PreKeyCountSpec, PreKeyFetchSpec};
use whatsapp_rust::{IqError, Jid, NodeBuilder};

use common::{pair_client, start_sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connected_client_gets_parseable_answers() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550001", "Alice").unwrap();
    sandbox.create_account("+15550002", "Bob").unwrap();
    let alice = pair_client(&sandbox, "+15550001").await;
    let client = alice.bot.client();

    client.execute(KeepaliveSpec::new()).await.expect("keepalive is answered");

    // The prekey upload runs in the background after login; wait until it landed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let count = loop {
        let count = client.execute(PreKeyCountSpec::new()).await.expect("count is answered").count;
        if count > 0 || tokio::time::Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(count >= 5, "the uploaded prekeys are counted, got {count}");

    let bob_phone = Jid::pn_device("15550002", 0);
    let fetched = client.execute(PreKeyFetchSpec::new(vec![bob_phone.clone()])).await.expect("bundles are answered");
    assert!(
        fetched.bundles.contains_key(&bob_phone),
        "the phone of another account has a bundle; rejected: {}",
        fetched.rejected.len()
    );

    let known = client
        .contacts()
        .is_on_whatsapp(&[Jid::pn("15550002"), Jid::pn("15559999")])
        .await
        .expect("is-on-whatsapp is answered");
    let bob = known.iter().find(|r| r.jid.user == "15550002").expect("Bob is in the answer");
    assert!(bob.is_registered && !bob.is_business);
    assert!(bob.lid.as_ref().is_some_and(|lid| lid.is_lid()));
    assert!(known.iter().any(|r| r.jid.user == "15559999" && !r.is_registered));

    let own = client.pn().unwrap();
    let devices = client.signal().get_user_devices(&[own.to_non_ad()]).await.expect("devices are answered");
    assert!(devices.iter().any(|d| d.device == own.device), "own device listed: {devices:?}");

    let unknown = NodeBuilder::new("iq")
        .attr("id", "unknown-1")
        .attr("xmlns", "sandbox:nothing")
        .attr("type", "get")
        .attr("to", "s.whatsapp.net")
        .build();
    match client.send_iq_node(unknown, Some(Duration::from_secs(5))).await {
        Err(IqError::ServerError { code: 501, .. }) => {}
        other => panic!("an unknown IQ must be refused with 501 at once, got {other:?}"),
    }

    alice.bot.shutdown().await;
    sandbox.shutdown().await;
}
