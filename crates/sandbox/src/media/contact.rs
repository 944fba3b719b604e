//! Media as a simulated contact's phone handles it: encrypt and store a file without
//! going through HTTP, and fetch and decrypt what a real client uploaded. The crypto
//! is wacore's, the same the clients use, so both directions interoperate.

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use wacore::download::{DownloadUtils, Downloadable, MediaDecryptionError, MediaType};
use wacore::proto_helpers::MessageExt;
use waproto::whatsapp as wa;

use super::{MediaStore, UploadRefusal};
use crate::server::SandboxHandle;

/// A file stored on the media servers: the fields a media message carries.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    pub url: String,
    pub direct_path: String,
    pub media_key: [u8; 32],
    pub file_sha256: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    /// Plaintext length.
    pub file_length: u64,
    pub media_key_timestamp: i64,
}

impl StoredMedia {
    /// An `ImageMessage` pointing at this file, as a phone sends it.
    pub fn image_message(&self, mimetype: &str, caption: Option<String>) -> wa::message::ImageMessage {
        wa::message::ImageMessage {
            url: Some(self.url.clone()),
            direct_path: Some(self.direct_path.clone()),
            media_key: Some(self.media_key.to_vec()),
            file_sha256: Some(self.file_sha256.to_vec()),
            file_enc_sha256: Some(self.file_enc_sha256.to_vec()),
            file_length: Some(self.file_length),
            media_key_timestamp: Some(self.media_key_timestamp),
            mimetype: Some(mimetype.to_owned()),
            caption,
            ..Default::default()
        }
    }
}

/// The media a received message carries (image, video, audio, document or sticker),
/// looking through ephemeral, view-once and device-sent wrappers. A simulated
/// contact hands it to its client's `Client::download`; tests may also use
/// [`SandboxHandle::fetch_media`].
pub fn media_in(message: &wa::Message) -> Option<&dyn Downloadable> {
    let base = message.get_base_message();
    let found: Option<&dyn Downloadable> = if let Some(m) = base.image_message.as_option() {
        Some(m)
    } else if let Some(m) = base.video_message.as_option() {
        Some(m)
    } else if let Some(m) = base.audio_message.as_option() {
        Some(m)
    } else if let Some(m) = base.document_message.as_option() {
        Some(m)
    } else if let Some(m) = base.sticker_message.as_option() {
        Some(m)
    } else {
        None
    };
    found
}

/// Why a contact could not store or read a file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the media message lacks {0}")]
    MissingField(&'static str),
    #[error("the media servers hold nothing at {0}")]
    NotFound(String),
    #[error("the blob does not hash to the message's file_enc_sha256")]
    EncHashMismatch,
    #[error("cannot decrypt the blob: {0}")]
    Decrypt(#[from] MediaDecryptionError),
    #[error("the plaintext does not hash to the message's file_sha256")]
    PlainHashMismatch,
    #[error("cannot encrypt: {0}")]
    Encrypt(anyhow::Error),
    #[error("the media servers refused the file: {0:?}")]
    Refused(UploadRefusal),
}

impl MediaStore {
    /// Encrypts `plaintext` with a fresh media key and stores the blob.
    pub(crate) fn put_plaintext(&self, plaintext: &[u8], media_type: MediaType) -> Result<StoredMedia, MediaError> {
        let encrypted = wacore::upload::encrypt_media(plaintext, media_type).map_err(MediaError::Encrypt)?;
        let token = URL_SAFE_NO_PAD.encode(encrypted.file_enc_sha256);
        let direct_path = self
            .put(media_type.mms_type(), &token, Bytes::from(encrypted.data_to_upload))
            .map_err(MediaError::Refused)?;
        Ok(StoredMedia {
            url: self.url_of(&direct_path),
            direct_path,
            media_key: encrypted.media_key,
            file_sha256: encrypted.file_sha256,
            file_enc_sha256: encrypted.file_enc_sha256,
            file_length: plaintext.len() as u64,
            media_key_timestamp: crate::network::now_secs() as i64,
        })
    }

    /// Fetches the blob a media message points at, checks its hashes and MAC, and
    /// returns the plaintext.
    pub(crate) fn get_plaintext(&self, media: &dyn Downloadable) -> Result<Vec<u8>, MediaError> {
        let direct_path = media.direct_path().ok_or(MediaError::MissingField("direct_path"))?;
        let media_key = media.media_key().ok_or(MediaError::MissingField("media_key"))?;
        let blob = self.bytes(direct_path).ok_or_else(|| MediaError::NotFound(direct_path.to_owned()))?;
        if let Some(expected) = media.file_enc_sha256()
            && Sha256::digest(&blob)[..] != *expected
        {
            return Err(MediaError::EncHashMismatch);
        }
        let plaintext = DownloadUtils::verify_and_decrypt(&blob, media_key, media.app_info())?;
        if let Some(expected) = media.file_sha256()
            && Sha256::digest(&plaintext)[..] != *expected
        {
            return Err(MediaError::PlainHashMismatch);
        }
        Ok(plaintext)
    }
}

impl SandboxHandle {
    /// Stores a file the way a contact's phone uploads it (encrypted with a fresh
    /// media key); the result fills a media message a real client can download.
    pub fn store_media(&self, plaintext: &[u8], media_type: MediaType) -> Result<StoredMedia, MediaError> {
        self.shared.media.put_plaintext(plaintext, media_type)
    }

    /// Downloads and decrypts what a media message (e.g. a received
    /// `ImageMessage`) points at, the way a contact's phone does.
    pub fn fetch_media(&self, media: &dyn Downloadable) -> Result<Vec<u8>, MediaError> {
        self.shared.media.get_plaintext(media)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_reads_back_what_it_stored_and_a_flipped_bit_fails_the_mac() {
        let store = MediaStore::new("127.0.0.1:4000".parse().unwrap());
        let plaintext = b"a small picture".repeat(100);
        let stored = store.put_plaintext(&plaintext, MediaType::Image).unwrap();
        let message = stored.image_message("image/jpeg", None);
        assert_eq!(store.get_plaintext(&message).unwrap(), plaintext);

        let mut blob = store.bytes(&stored.direct_path).unwrap().to_vec();
        blob[3] ^= 1;
        let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&blob));
        let tampered_path = store.put("image", &token, Bytes::from(blob.clone())).unwrap();
        let mut tampered = message.clone();
        tampered.direct_path = Some(tampered_path);
        tampered.file_enc_sha256 = Some(Sha256::digest(&blob).to_vec());
        assert!(matches!(store.get_plaintext(&tampered), Err(MediaError::Decrypt(MediaDecryptionError::InvalidMac))));
        tampered.file_enc_sha256 = message.file_enc_sha256.clone();
        assert!(matches!(store.get_plaintext(&tampered), Err(MediaError::EncHashMismatch)));
    }
}
