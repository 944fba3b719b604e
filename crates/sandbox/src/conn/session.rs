//! A logged-in device: `<success>`, then every request answered at once so the client
//! reaches `Connected` and its keepalive never finds the socket dead.

use wacore_binary::{Jid, Node};

use super::{ConnCommand, Connection, Incoming};
use crate::error::SandboxError;
use crate::iq;
use crate::network::{LoginGrant, now_secs};
use crate::stanza;

/// How a connection ends.
enum Ending {
    /// With a WebSocket close frame.
    Close,
    /// After a last stanza, once the client has closed or had time to read it.
    Linger,
    /// Without a word, like a network failure.
    Drop,
}

pub(super) async fn run(mut conn: Connection, username: u64, device: u32) {
    let network = &conn.shared.network;
    let grant = match network.login(username, device, &conn.client_static) {
        Ok(grant) => grant,
        Err(refusal) => {
            tracing::info!(%refusal, "login refused");
            let _ = conn.send(&refusal.failure()).await;
            return conn.close().await;
        }
    };
    if let Some(previous) = network.attach(&grant.device_jid, conn.handle.clone()) {
        let _ = previous.tx.try_send(ConnCommand::SendAndClose(stanza::replaced()));
    }
    tracing::info!(device = %grant.device_jid, "device logged in");
    let ending = serve(&mut conn, &grant).await;
    conn.shared.network.detach(&grant.device_jid, conn.handle.id);
    for (handle, update) in conn.shared.network.device_left(&grant.device_jid) {
        // Presence is best effort: a full queue just misses this update.
        let _ = handle.tx.try_send(ConnCommand::Deliver(update));
    }
    tracing::info!(device = %grant.device_jid, "device offline");
    match ending {
        Ending::Close => conn.close().await,
        Ending::Linger => conn.linger_and_close().await,
        Ending::Drop => drop(conn),
    }
}

async fn serve(conn: &mut Connection, grant: &LoginGrant) -> Ending {
    if conn.send(&stanza::success(now_secs(), &grant.lid_jid)).await.is_err() {
        return Ending::Close;
    }
    loop {
        let sent = match conn.next().await {
            Incoming::Closed => return Ending::Close,
            Incoming::Command(ConnCommand::SendAndClose(node)) => {
                let _ = conn.send(&node).await;
                return Ending::Linger;
            }
            Incoming::Command(ConnCommand::Drop) => return Ending::Drop,
            Incoming::Command(ConnCommand::Deliver(node)) => conn.send(&node).await,
            Incoming::Command(ConnCommand::SetLatency(latency)) => {
                conn.set_latency(latency);
                Ok(())
            }
            Incoming::Command(ConnCommand::SetAckDelay(delay)) => {
                conn.ack_delay = delay;
                Ok(())
            }
            // Only a companion still waiting to be paired can take these.
            Incoming::Command(ConnCommand::Offer(offer)) => {
                let _ = offer.reply.send(Err(SandboxError::CompanionGone));
                Ok(())
            }
            Incoming::Command(ConnCommand::PrimaryHello(offer)) => {
                let _ = offer.reply.send(Err(SandboxError::CompanionGone));
                Ok(())
            }
            Incoming::Node(node) => on_node(conn, grant, node).await,
        };
        if sent.is_err() {
            return Ending::Close;
        }
    }
}

async fn on_node(conn: &mut Connection, grant: &LoginGrant, node: Node) -> anyhow::Result<()> {
    let network = &conn.shared.network;
    let device = &grant.device_jid;
    let routed = match node.tag.as_ref() {
        "iq" => {
            let context = iq::Context { network, device, media: &conn.shared.media };
            for reply in iq::answer(&context, &node) {
                conn.send(&reply).await?;
            }
            if is_active(&node) {
                offline_drain(conn, device).await?;
            }
            return Ok(());
        }
        "message" => network.route_message(device, &node),
        "receipt" => network.route_receipt(device, &node),
        "ack" => {
            network.route_ack(device, &node);
            return Ok(());
        }
        "presence" => network.route_presence(device, &node),
        "chatstate" => network.route_chatstate(device, &node),
        "call" => network.route_call(device, &node),
        // `<ib><unified_session/>` and offline-batch pulls: the whole queue goes at once.
        "ib" => return Ok(()),
        tag => {
            tracing::debug!(tag, "not handled yet");
            return Ok(());
        }
    };
    for reply in routed.reply {
        if !conn.ack_delay.is_zero() && is_message_ack(&reply) {
            // The `late_acks` fault: the ack comes after what the message caused
            // (the recipients' receipts), as it sometimes does on a busy server.
            let (delay, tx) = (conn.ack_delay, conn.handle.tx.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(ConnCommand::Deliver(reply)).await;
            });
            continue;
        }
        conn.send(&reply).await?;
    }
    for (handle, stanza) in routed.deliveries {
        if handle.id == conn.handle.id {
            // Our own queue: this task is its only reader, so never wait on it.
            conn.send(&stanza).await?;
        } else {
            // A connection that closed meanwhile finds the stanza in its queue later.
            let _ = handle.tx.send(ConnCommand::Deliver(stanza)).await;
        }
    }
    Ok(())
}

fn is_message_ack(node: &Node) -> bool {
    node.tag == "ack" && node.attrs().optional_string("class").as_deref() == Some("message")
}

/// `<iq xmlns="passive"><active/></iq>`: the client is ready for its offline queue.
fn is_active(iq: &Node) -> bool {
    iq.attrs().optional_string("xmlns").as_deref() == Some("passive")
        && iq.attrs().optional_string("type").as_deref() == Some("set")
        && iq.get_optional_child("active").is_some()
}

/// Sends what waited for the device, then `<ib><offline count/>`, which the client
/// needs even when the count is 0: it holds back sends and events until then.
async fn offline_drain(conn: &mut Connection, device: &Jid) -> anyhow::Result<()> {
    let queued = conn.shared.network.drain(device, conn.handle.id);
    if !queued.is_empty() {
        tracing::info!(%device, count = queued.len(), "delivering the offline queue");
    }
    for stanza in &queued {
        conn.send(stanza).await?;
    }
    conn.send(&stanza::offline_done(queued.len())).await
}
