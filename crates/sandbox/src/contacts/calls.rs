//! A simulated contact calls a number: its client sends the call offer a phone sends
//! (`<call><offer>` with its audio codecs, and `<video>` for a video call). The sandbox
//! carries signalling only, so the call rings and is never answered with media.

use wacore_binary::builder::NodeBuilder;

use crate::error::SandboxError;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

/// The contact calls `to` (a number or a user JID); returns the call's id.
pub(super) async fn call(shared: &Shared, phone: &PhoneNumber, to: &str, video: bool) -> Result<String, SandboxError> {
    let to = super::parse_chat(to)?;
    if !(to.is_pn() || to.is_lid()) {
        return Err(SandboxError::InvalidChat(format!("{to} (a call goes to a person)")));
    }
    let client = shared.contacts.get(phone)?.client(phone).await?;
    let me = client.pn().ok_or_else(|| SandboxError::ContactFailed("the contact's client has no number yet".into()))?;
    let hex = |bytes: [u8; 16]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let call_id = hex(rand::random());
    let mut media = vec![
        NodeBuilder::new("audio").attr("enc", "opus").attr("rate", "16000").build(),
        NodeBuilder::new("audio").attr("enc", "opus").attr("rate", "8000").build(),
    ];
    if video {
        media.push(NodeBuilder::new("video").attr("enc", "vp8").attr("dec", "vp8").attr("orientation", "0").build());
    }
    media.push(NodeBuilder::new("net").attr("medium", "3").build());
    let offer = NodeBuilder::new("offer")
        .attr("call-id", call_id.clone())
        .attr("call-creator", me.to_non_ad())
        .children(media)
        .build();
    let stanza = NodeBuilder::new("call")
        .attr("to", to)
        .attr("id", hex(rand::random())[..20].to_owned())
        .children([offer])
        .build();
    client.send_node(stanza).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(call_id)
}

impl SandboxHandle {
    /// The contact calls `to` (a number or a user JID), a voice call or a video call;
    /// returns the call's id.
    pub async fn contact_call(&self, phone: &str, to: &str, video: bool) -> Result<String, SandboxError> {
        call(&self.shared, &PhoneNumber::parse(phone)?, to, video).await
    }
}
