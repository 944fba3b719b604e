//! The companion's side of pairing by code, on its registration connection:
//! `companion_hello` (it shows a code), the phone's `primary_hello` (the user typed
//! it), `companion_finish` (the key bundle), then `<pair-success>` as with a QR code.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Node, NodeContent};

use super::pairing::Pairing;
use crate::error::SandboxError;
use crate::iq;
use crate::network::{CodeOffer, CodeRequest, PairOffer, now_secs};
use crate::phone_number::PhoneNumber;
use crate::stanza::server_jid;

impl Pairing {
    /// A `<link_code_companion_reg>` IQ from the companion; returns whether to go on.
    pub(super) async fn link_code_request(&mut self, iq: &Node, registration: &Node) -> bool {
        let stage = registration.attrs().optional_string("stage").map(|s| s.into_owned()).unwrap_or_default();
        let answer = match stage.as_str() {
            "companion_hello" => self.companion_hello(registration),
            "companion_finish" => self.companion_finish(registration),
            _ => Err(iq::IqError::NOT_IMPLEMENTED),
        };
        let reply = match answer {
            Ok(Some(child)) => result(iq, vec![child]),
            Ok(None) => result(iq, Vec::new()),
            Err(error) => iq::error_reply(iq, error.code, error.text),
        };
        let sent = self.conn.send(&reply).await.is_ok();
        // The phone finishes its part once the companion's key bundle is acknowledged.
        if sent && stage == "companion_finish" {
            return self.grant_after_code(registration).await;
        }
        sent
    }

    /// Stage 1: remember the request under the number the companion wants to link.
    fn companion_hello(&mut self, registration: &Node) -> Result<Option<Node>, iq::IqError> {
        let jid = registration.attrs().optional_jid("jid").ok_or(iq::IqError::BAD_REQUEST)?;
        let phone = PhoneNumber::from_digits(&jid.user).map_err(|_| iq::IqError::BAD_REQUEST)?;
        let wrapped = child_bytes(registration, "link_code_pairing_wrapped_companion_ephemeral_pub")
            .filter(|b| b.len() == 80)
            .ok_or(iq::IqError::BAD_REQUEST)?;
        let auth_key = child_bytes(registration, "companion_server_auth_key_pub").ok_or(iq::IqError::BAD_REQUEST)?;
        if auth_key != self.conn.client_static {
            return Err(iq::IqError { code: 403, text: "forbidden" });
        }
        let pairing_ref =
            rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes();
        let request = CodeRequest {
            handle: self.conn.handle.clone(),
            pairing_ref: pairing_ref.clone(),
            wrapped_ephemeral: wrapped,
        };
        if let Err(error) = self.conn.shared.network.wait_for_code(phone, request) {
            tracing::warn!(%error, "pairing code for an unknown number");
            return Err(iq::IqError::BAD_REQUEST);
        }
        tracing::info!(phone = %jid.user, "companion waiting for its pairing code");
        let reference = NodeBuilder::new("link_code_pairing_ref").bytes(pairing_ref).build();
        Ok(Some(NodeBuilder::new("link_code_companion_reg").children([reference]).build()))
    }

    /// The phone accepted the code: `primary_hello` tells the companion its keys.
    pub(super) async fn primary_hello(&mut self, offer: Box<CodeOffer>) -> bool {
        let hello = NodeBuilder::new("link_code_companion_reg")
            .attr("stage", "primary_hello")
            .children([
                bytes("link_code_pairing_wrapped_primary_ephemeral_pub", offer.hello.wrapped_ephemeral.to_vec()),
                bytes("primary_identity_pub", offer.primary_identity.to_vec()),
                bytes("link_code_pairing_ref", offer.pairing_ref.clone()),
            ])
            .build();
        let notification = NodeBuilder::new("notification")
            .attr("from", server_jid())
            .attr("id", self.next_iq_id())
            .attr("type", "link_code_companion_reg")
            .attr("t", now_secs().to_string())
            .children([hello])
            .build();
        if let Some(previous) = self.code_offer.replace(offer) {
            let _ = previous.reply.send(Err(SandboxError::PairingRejected("superseded by a newer code entry".into())));
        }
        self.conn.send(&notification).await.is_ok()
    }

    /// Stage 2 arrives: check it belongs to the outstanding offer.
    fn companion_finish(&mut self, registration: &Node) -> Result<Option<Node>, iq::IqError> {
        let offer = self.code_offer.as_ref().ok_or(iq::IqError::BAD_REQUEST)?;
        let reference = child_bytes(registration, "link_code_pairing_ref").ok_or(iq::IqError::BAD_REQUEST)?;
        if reference != offer.pairing_ref {
            return Err(iq::IqError::BAD_REQUEST);
        }
        Ok(None)
    }

    /// The phone opens the key bundle and, if the code matched, grants the device.
    async fn grant_after_code(&mut self, registration: &Node) -> bool {
        let Some(offer) = self.code_offer.take() else { return true };
        let bundle = child_bytes(registration, "link_code_pairing_wrapped_key_bundle").unwrap_or_default();
        let identity: Option<[u8; 32]> =
            child_bytes(registration, "companion_identity_public").and_then(|b| b.try_into().ok());
        let grant = match identity {
            Some(identity) if identity == self.keys.identity => {
                self.conn.shared.network.accept_code_link(&offer, &bundle, &identity)
            }
            _ => Err(SandboxError::PairingRejected("the key bundle names another identity".into())),
        };
        match grant {
            Ok(grant) => self.offer(PairOffer { grant, reply: offer.reply }).await,
            Err(error) => {
                tracing::info!(%error, "phone refused the pairing code");
                let _ = offer.reply.send(Err(error));
                true
            }
        }
    }
}

fn result(iq: &Node, children: Vec<Node>) -> Node {
    let id = iq.attrs().optional_string("id").map(|s| s.into_owned()).unwrap_or_default();
    let builder = NodeBuilder::new("iq").attr("from", server_jid()).attr("id", id).attr("type", "result");
    if children.is_empty() { builder.build() } else { builder.children(children).build() }
}

fn child_bytes(node: &Node, tag: &str) -> Option<Vec<u8>> {
    match &node.get_optional_child(tag)?.content {
        Some(NodeContent::Bytes(bytes)) => Some(bytes.clone()),
        _ => None,
    }
}

fn bytes(tag: &'static str, content: Vec<u8>) -> Node {
    NodeBuilder::new(tag).bytes(content).build()
}
