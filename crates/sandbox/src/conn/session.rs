//! A logged-in device: `<success>`, then every request answered at once so the client
//! reaches `Connected` and its keepalive never finds the socket dead.

use wacore_binary::Node;

use super::{ConnCommand, Connection, Incoming};
use crate::error::SandboxError;
use crate::iq;
use crate::network::{LoginGrant, now_secs};
use crate::stanza;

/// How a connection ends.
enum Ending {
    /// With a WebSocket close frame.
    Close,
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
    tracing::info!(device = %grant.device_jid, "device offline");
    match ending {
        Ending::Close => conn.close().await,
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
                return Ending::Close;
            }
            Incoming::Command(ConnCommand::Drop) => return Ending::Drop,
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
    match node.tag.as_ref() {
        "iq" => {
            let context = iq::Context { network: &conn.shared.network, device: &grant.device_jid };
            for reply in iq::answer(&context, &node) {
                conn.send(&reply).await?;
            }
        }
        // Routing of messages, receipts, presence and chat states comes with messaging.
        tag => tracing::debug!(tag, "not handled yet"),
    }
    Ok(())
}
