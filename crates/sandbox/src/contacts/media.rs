//! The media part of what a simulated contact receives and sends: its client
//! downloads and decrypts every media message it gets (keeping the plaintext), and it
//! can upload and send an image itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use wacore::download::MediaType;
use wacore::proto_helpers::MessageExt as _;
use waproto::whatsapp as wa;
use whatsapp_rust::Client;
use whatsapp_rust::media::{ImageOptions, image_message};
use whatsapp_rust::upload::UploadOptions;

use super::client::Behaviour;
use crate::admin::{ApiError, path_phone};
use crate::error::SandboxError;
use crate::media::media_in;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

/// An image a contact sends: `{"data": "<base64>", "caption": "…", "mimetype": "image/jpeg"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImageBody {
    data: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    mimetype: Option<String>,
}

/// An image to send, decoded.
pub(super) struct Image {
    pub(super) data: Vec<u8>,
    pub(super) caption: Option<String>,
    pub(super) mimetype: Option<String>,
}

impl ImageBody {
    pub(super) fn decode(self) -> Result<Image, SandboxError> {
        let data = STANDARD
            .decode(self.data.trim())
            .map_err(|e| SandboxError::InvalidMessage(format!("image.data is not base64: {e}")))?;
        if data.is_empty() {
            return Err(SandboxError::InvalidMessage("image.data is empty".to_owned()));
        }
        Ok(Image { data, caption: self.caption, mimetype: self.mimetype })
    }
}

/// Decrypted media of received messages, by message id.
#[derive(Default)]
pub(super) struct Downloads(Mutex<HashMap<String, Arc<Vec<u8>>>>);

impl Downloads {
    fn insert(&self, id: String, bytes: Vec<u8>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::new(bytes));
    }

    fn get(&self, id: &str) -> Option<Arc<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }
}

/// What kind of message it is, with the caption and MIME type of its media:
/// `("text" | "image" | "video" | "audio" | "document" | "sticker" | "other", …)`.
pub(super) fn describe(message: &wa::Message) -> (&'static str, Option<String>, Option<String>) {
    let base = message.get_base_message();
    if let Some(m) = base.image_message.as_option() {
        ("image", m.caption.clone(), m.mimetype.clone())
    } else if let Some(m) = base.video_message.as_option() {
        ("video", m.caption.clone(), m.mimetype.clone())
    } else if let Some(m) = base.audio_message.as_option() {
        ("audio", None, m.mimetype.clone())
    } else if let Some(m) = base.document_message.as_option() {
        ("document", m.caption.clone(), m.mimetype.clone())
    } else if let Some(m) = base.sticker_message.as_option() {
        ("sticker", None, m.mimetype.clone())
    } else if message.text_content().is_some() {
        ("text", None, None)
    } else {
        ("other", None, None)
    }
}

/// Hex of SHA-256, as the received list shows it.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// If `message` carries media, the contact's client downloads and decrypts it in a
/// task of its own (the event handler must not wait on HTTP); the inbox entry `id`
/// then gets `media_sha256` and `media_len`, or `media_error`.
pub(super) fn download_later(behaviour: &Arc<Behaviour>, client: &Arc<Client>, id: String, message: &wa::Message) {
    if media_in(message).is_none() {
        return;
    }
    let (behaviour, client, message) = (behaviour.clone(), client.clone(), message.clone());
    tokio::spawn(async move {
        let Some(media) = media_in(&message) else { return };
        let outcome = client.download(media).await;
        let mut inbox = behaviour.inbox.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = inbox.iter_mut().find(|m| m.id == id) else { return };
        match outcome {
            Ok(bytes) => {
                entry.media_sha256 = Some(sha256_hex(&bytes));
                entry.media_len = Some(bytes.len() as u64);
                behaviour.downloads.insert(id, bytes);
            }
            Err(error) => {
                tracing::warn!(%error, %id, "contact could not download received media");
                entry.media_error = Some(format!("{error:#}"));
            }
        }
    });
}

/// The contact uploads `data` with its client and sends it as an image to `to`;
/// returns the WhatsApp message id.
pub(super) async fn send_image(
    shared: &Shared,
    phone: &PhoneNumber,
    to: &str,
    Image { data, caption, mimetype }: Image,
) -> Result<String, SandboxError> {
    let client = shared.contacts.get(phone)?.client(phone).await?;
    let to = super::parse_chat(to)?;
    let upload = client
        .upload(data, MediaType::Image, UploadOptions::new())
        .await
        .map_err(|e| SandboxError::ContactFailed(format!("upload failed: {e:#}")))?;
    let message = image_message(upload, ImageOptions { caption, mimetype, ..Default::default() });
    let sent = client.send_message(to, message).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(sent.message_id)
}

/// The decrypted media of message `id` the contact received, with its MIME type.
fn received_media(
    shared: &Shared,
    phone: &PhoneNumber,
    id: &str,
) -> Result<(Arc<Vec<u8>>, Option<String>), SandboxError> {
    let contact = shared.contacts.get(phone)?;
    let behaviour = &contact.behaviour;
    let entry = {
        let inbox = behaviour.inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox.iter().find(|m| m.id == id).cloned()
    };
    let no_media = |reason: &str| SandboxError::NoMedia { id: id.to_owned(), reason: reason.to_owned() };
    let Some(entry) = entry else { return Err(no_media("the contact received no such message")) };
    if let Some(bytes) = behaviour.downloads.get(id) {
        return Ok((bytes, entry.mimetype));
    }
    Err(match (&entry.media_error, entry.kind.as_str()) {
        (Some(error), _) => no_media(&format!("its download failed: {error}")),
        (None, "text" | "other") => no_media(&format!("it is a {} message without media", entry.kind)),
        (None, _) => no_media("its download has not finished yet"),
    })
}

/// `GET /sandbox/contacts/{phone}/messages/{id}/media`: the decrypted bytes.
pub(super) async fn media_route(
    State(shared): State<Arc<Shared>>,
    Path((phone, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (bytes, mimetype) = received_media(&shared, &path_phone(&phone)?, &id)?;
    let mimetype = mimetype.unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(([(header::CONTENT_TYPE, mimetype)], bytes.as_ref().clone()).into_response())
}

impl SandboxHandle {
    /// The contact uploads `data` and sends it as an image to `to` (a number like
    /// `+15550001` or a JID); returns the message id.
    pub async fn contact_send_image(
        &self,
        phone: &str,
        to: &str,
        data: Vec<u8>,
        caption: Option<&str>,
        mimetype: Option<&str>,
    ) -> Result<String, SandboxError> {
        let image = Image { data, caption: caption.map(str::to_owned), mimetype: mimetype.map(str::to_owned) };
        send_image(&self.shared, &PhoneNumber::parse(phone)?, to, image).await
    }

    /// The decrypted media of message `id` the contact received.
    pub fn contact_message_media(&self, phone: &str, id: &str) -> Result<Vec<u8>, SandboxError> {
        Ok(received_media(&self.shared, &PhoneNumber::parse(phone)?, id)?.0.as_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_described_by_kind_caption_and_mimetype() {
        let text = wa::Message { conversation: Some("hi".into()), ..Default::default() };
        assert_eq!(describe(&text), ("text", None, None));
        let image = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                caption: Some("look".into()),
                mimetype: Some("image/png".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(describe(&image), ("image", Some("look".into()), Some("image/png".into())));
        let sticker = wa::Message {
            sticker_message: buffa::MessageField::some(wa::message::StickerMessage {
                mimetype: Some("image/webp".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(describe(&sticker), ("sticker", None, Some("image/webp".into())));
        assert_eq!(describe(&wa::Message::default()).0, "other");
        // SHA-256("abc")
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn an_image_body_must_be_nonempty_base64() {
        let body = |data: &str| ImageBody { data: data.into(), caption: None, mimetype: None };
        assert_eq!(body("aGk=").decode().unwrap().data, b"hi");
        assert!(matches!(body("%%").decode(), Err(SandboxError::InvalidMessage(_))));
        assert!(matches!(body("").decode(), Err(SandboxError::InvalidMessage(_))));
    }
}
