//! A registration connection: a new companion that shows QR codes (or a pairing code)
//! until the account's phone accepts it, then confirms the device identity the phone
//! signed for it and is sent away to log in.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use buffa::Message as _;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Node, NodeContent};
use waproto::whatsapp as wa;
use waproto::whatsapp::client_payload::DevicePairingRegistrationData;

use super::{ConnCommand, Connection, Incoming};
use crate::error::SandboxError;
use crate::iq;
use crate::network::{CodeOffer, PairOffer, PreKey, SignalKeys, SignedPreKey, WaitingCompanion, now_secs};
use crate::phone::companion_signature_is_valid;
use crate::stanza::{server_jid, stream_error};

/// WhatsApp gives a companion six refs; it shows each as a QR code in turn
/// (60 s, then 20 s each) and gives up after the last one.
const QR_REFS: usize = 6;

pub(super) async fn run(conn: Connection, payload: wa::ClientPayload) {
    let Some((keys, platform)) = payload.device_pairing_data.as_option().and_then(registration_keys) else {
        tracing::warn!("registration payload without valid keys");
        return conn.close().await;
    };
    let refs: Vec<String> = (0..QR_REFS).map(|_| new_ref()).collect();
    let waiting = WaitingCompanion {
        handle: conn.handle.clone(),
        noise_public: conn.client_static,
        identity_public: keys.identity,
    };
    conn.shared.network.wait_for_scan(&refs, waiting);
    tracing::info!(%platform, "companion waiting to be paired");

    let pairing = Pairing { conn, keys, platform, iq_counter: 0, offer: None, code_offer: None };
    pairing.serve(refs).await;
}

pub(super) struct Pairing {
    pub(super) conn: Connection,
    /// The companion's Signal keys from its registration payload.
    pub(super) keys: SignalKeys,
    platform: String,
    iq_counter: u32,
    /// The `<pair-success>` iq id and the offer it carried, until the companion answers.
    offer: Option<(String, PairOffer)>,
    /// The phone's `primary_hello`, until the companion answers with its key bundle.
    pub(super) code_offer: Option<Box<CodeOffer>>,
}

impl Pairing {
    async fn serve(mut self, refs: Vec<String>) {
        let pair_device = self.pair_device(&refs);
        let mut open = self.conn.send(&pair_device).await.is_ok();
        while open {
            open = match self.conn.next().await {
                Incoming::Closed | Incoming::Command(ConnCommand::Drop) => false,
                Incoming::Command(ConnCommand::Offer(offer)) => self.offer(*offer).await,
                Incoming::Command(ConnCommand::PrimaryHello(offer)) => self.primary_hello(offer).await,
                // Not a device yet: nothing can be addressed to it.
                Incoming::Command(ConnCommand::Deliver(_)) => true,
                Incoming::Command(ConnCommand::SetLatency(latency)) => {
                    self.conn.set_latency(latency);
                    true
                }
                Incoming::Command(ConnCommand::SetAckDelay(delay)) => {
                    self.conn.ack_delay = delay;
                    true
                }
                Incoming::Command(ConnCommand::SendAndClose(node)) => {
                    let _ = self.conn.send(&node).await;
                    false
                }
                Incoming::Node(node) => self.on_node(node).await,
            };
        }
        self.conn.shared.network.stop_waiting(self.conn.handle.id);
        self.conn.close().await;
    }

    pub(super) fn next_iq_id(&mut self) -> String {
        self.iq_counter += 1;
        format!("sandbox-{}.{}", self.conn.handle.id.0, self.iq_counter)
    }

    fn pair_device(&mut self, refs: &[String]) -> Node {
        let refs = refs.iter().map(|r| NodeBuilder::new("ref").bytes(r.as_bytes().to_vec()).build());
        let pair_device = NodeBuilder::new("pair-device").children(refs).build();
        md_iq(self.next_iq_id(), pair_device)
    }

    /// Sends `<pair-success>`; returns whether the connection is still usable.
    pub(super) async fn offer(&mut self, offer: PairOffer) -> bool {
        if self.offer.is_some() {
            let _ = offer.reply.send(Err(SandboxError::PairingRejected("already confirming another pairing".into())));
            return true;
        }
        let grant = &offer.grant;
        let success = NodeBuilder::new("pair-success")
            .children([
                NodeBuilder::new("device-identity").bytes(grant.device_identity.clone()).build(),
                NodeBuilder::new("device")
                    .attr("jid", grant.device_jid.clone())
                    .attr("lid", grant.lid_jid.clone())
                    .build(),
                NodeBuilder::new("platform").attr("name", "android").build(),
                // The client takes the business name as its push name when one is given.
                NodeBuilder::new("biz").attr("name", grant.business_name.clone()).build(),
            ])
            .build();
        let id = self.next_iq_id();
        let mut node = md_iq(id.clone(), success);
        node.attrs.insert("t", now_secs().to_string());
        self.offer = Some((id, offer));
        self.conn.send(&node).await.is_ok()
    }

    /// Handles a node from the companion; returns whether to keep the connection.
    async fn on_node(&mut self, node: Node) -> bool {
        if node.tag != "iq" {
            tracing::debug!(tag = %node.tag, "ignoring node from an unpaired companion");
            return true;
        }
        let id = node.attrs().optional_string("id").map(|s| s.into_owned()).unwrap_or_default();
        let kind = node.attrs().optional_string("type").map(|s| s.into_owned()).unwrap_or_default();
        match kind.as_str() {
            "get" | "set" => match node.get_optional_child("link_code_companion_reg") {
                Some(registration) => {
                    let registration = registration.clone();
                    self.link_code_request(&node, &registration).await
                }
                // An unpaired companion has no account to ask about.
                None => self.conn.send(&iq::error_reply(&node, 401, "not-authorized")).await.is_ok(),
            },
            "result" | "error" if self.offer.as_ref().is_some_and(|(offer_id, _)| *offer_id == id) => {
                let Some((_, offer)) = self.offer.take() else { return true };
                self.confirm(offer, &node).await
            }
            _ => true,
        }
    }

    /// The companion's answer to `<pair-success>`: its own signature on the identity.
    async fn confirm(&mut self, offer: PairOffer, answer: &Node) -> bool {
        let signed =
            answer.get_optional_child_by_tag(&["pair-device-sign", "device-identity"]).and_then(|n| match &n.content {
                Some(NodeContent::Bytes(bytes)) => Some(bytes.clone()),
                _ => None,
            });
        let Some(signed) = signed else {
            let reason = iq::error_text(answer).unwrap_or_else(|| "no pair-device-sign".into());
            tracing::warn!(%reason, "companion rejected the pairing");
            let _ = offer.reply.send(Err(SandboxError::PairingRejected(reason)));
            return true;
        };
        let grant = &offer.grant;
        if !companion_signature_is_valid(&signed, &grant.companion_identity, &grant.account_public) {
            tracing::warn!("companion returned an invalid device signature");
            let _ = offer.reply.send(Err(SandboxError::PairingRejected("invalid device signature".into())));
            return false;
        }
        let network = &self.conn.shared.network;
        match network.complete_link(grant, signed, self.keys.clone(), self.conn.client_static, self.platform.clone()) {
            Ok(device) => {
                tracing::info!(device = %device.jid, "companion paired");
                network.share_app_state_key(grant, &self.keys).await;
                let _ = offer.reply.send(Ok(device));
                // 515: "restart required"; the client reconnects at once and logs in.
                let _ = self.conn.send(&stream_error(515)).await;
                false
            }
            Err(error) => {
                let _ = offer.reply.send(Err(error));
                true
            }
        }
    }
}

/// A server-initiated `md` IQ, as pairing uses them.
pub(super) fn md_iq(id: String, child: Node) -> Node {
    NodeBuilder::new("iq")
        .attr("from", server_jid())
        .attr("id", id)
        .attr("type", "set")
        .attr("xmlns", "md")
        .children([child])
        .build()
}

fn new_ref() -> String {
    let bytes: [u8; 18] = rand::random();
    format!("2@{}", BASE64.encode(bytes))
}

/// The companion's Signal keys and platform from its registration payload.
fn registration_keys(data: &DevicePairingRegistrationData) -> Option<(SignalKeys, String)> {
    fn fixed(field: &Option<Vec<u8>>, len: usize) -> Option<&[u8]> {
        field.as_deref().filter(|b| b.len() == len)
    }
    let keys = SignalKeys {
        registration_id: fixed(&data.e_regid, 4).and_then(iq::be_u32)?,
        identity: fixed(&data.e_ident, 32)?.try_into().ok()?,
        signed_prekey: SignedPreKey {
            id: fixed(&data.e_skey_id, 3).and_then(iq::be_u32)?,
            public: fixed(&data.e_skey_val, 32)?.try_into().ok()?,
            signature: fixed(&data.e_skey_sig, 64)?.to_vec(),
        },
        one_time_prekeys: VecDeque::<PreKey>::new(),
    };
    let platform = data
        .device_props
        .as_deref()
        .and_then(|bytes| wa::DeviceProps::decode_from_slice(bytes).ok())
        .and_then(|props| props.os)
        .unwrap_or_else(|| "web".to_owned());
    Some((keys, platform))
}
