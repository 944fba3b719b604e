//! The media part of what a simulated contact receives and sends: its client
//! downloads and decrypts every media message it gets (keeping the plaintext, and
//! checking that a sticker is a WebP), and it uploads the files it sends, encrypted,
//! to the sandbox's media servers as any client does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use waproto::whatsapp as wa;
use whatsapp_rust::Client;
use whatsapp_rust::media::{
    AudioOptions, DocumentOptions, ImageOptions, VideoOptions, audio_message, document_message, image_message,
    video_message,
};
use whatsapp_rust::upload::{UploadOptions, UploadResponse};

use super::client::Behaviour;
use super::outgoing::{Content, Media, MediaKind, Outgoing};
use crate::admin::{ApiError, path_phone};
use crate::error::SandboxError;
use crate::media::media_in;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

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
                if entry.kind == "sticker" {
                    let size = webp_size(&bytes);
                    entry.webp = Some(size.is_some());
                    (entry.webp_width, entry.webp_height) = size.unzip();
                }
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

/// The width and height of `bytes` if they decode as a WebP image. Stickers are
/// small (512×512), so decoding all of it is cheap and proves more than the header.
fn webp_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::WebP).ok()?;
    Some((image.width(), image.height()))
}

/// The contact's client uploads `media` (encrypted, to the sandbox's media servers)
/// and builds the message that points at it.
pub(super) async fn upload(client: &Client, media: Media) -> Result<wa::Message, SandboxError> {
    let Media { kind, data, mimetype, caption, filename, ptt, width, height } = media;
    // A sticker states its size; read it from the WebP when the caller did not.
    let (width, height) = match (kind, width, height) {
        (MediaKind::Sticker, None, None) => webp_size(&data).unzip(),
        _ => (width, height),
    };
    let upload = client
        .upload(data, kind.media_type(), UploadOptions::new())
        .await
        .map_err(|e| SandboxError::ContactFailed(format!("upload failed: {e:#}")))?;
    let mut message = match kind {
        MediaKind::Image => image_message(upload, ImageOptions { caption, mimetype, ..Default::default() }),
        MediaKind::Video => video_message(upload, VideoOptions { caption, mimetype, ..Default::default() }),
        MediaKind::Audio => audio_message(upload, AudioOptions { mimetype, ptt: Some(ptt), ..Default::default() }),
        MediaKind::Document => document_message(
            upload,
            DocumentOptions { mimetype, title: filename.clone(), file_name: filename, caption, ..Default::default() },
        ),
        MediaKind::Sticker => sticker_message(upload, mimetype),
    };
    if let Some(m) = message.image_message.as_option_mut() {
        (m.width, m.height) = (width, height);
    } else if let Some(m) = message.video_message.as_option_mut() {
        (m.width, m.height) = (width, height);
    } else if let Some(m) = message.sticker_message.as_option_mut() {
        (m.width, m.height) = (width, height);
    }
    Ok(message)
}

/// whatsapp-rust has builders for the other kinds but not for stickers.
fn sticker_message(upload: UploadResponse, mimetype: Option<String>) -> wa::Message {
    wa::Message {
        sticker_message: buffa::MessageField::some(wa::message::StickerMessage {
            url: Some(upload.url),
            direct_path: Some(upload.direct_path),
            media_key: Some(upload.media_key.to_vec()),
            file_sha256: Some(upload.file_sha256.to_vec()),
            file_enc_sha256: Some(upload.file_enc_sha256.to_vec()),
            file_length: Some(upload.file_length),
            media_key_timestamp: Some(upload.media_key_timestamp),
            mimetype: Some(mimetype.unwrap_or_else(|| "image/webp".to_owned())),
            is_animated: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
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
        let mut image = Media::new(MediaKind::Image, data);
        (image.caption, image.mimetype) = (caption.map(str::to_owned), mimetype.map(str::to_owned));
        self.contact_send(phone, to, Outgoing::new(Content::Media(image))).await
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
    fn hashes_are_hex_and_only_a_decodable_webp_has_a_size() {
        // SHA-256("abc")
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let mut webp = Vec::new();
        image::RgbaImage::from_pixel(3, 2, image::Rgba([1, 2, 3, 255]))
            .write_to(&mut std::io::Cursor::new(&mut webp), image::ImageFormat::WebP)
            .unwrap();
        assert_eq!(webp_size(&webp), Some((3, 2)));
        assert_eq!(webp_size(b"RIFF\x04\0\0\0WEBPnot a picture"), None);
        assert_eq!(webp_size(&webp[..webp.len() / 2]), None, "a truncated WebP does not decode");
    }
}
