//! Media files: uploading what wagate sends, and describing (then downloading) what
//! it receives. WhatsApp keeps media encrypted on its CDN; a message carries where the
//! file is and the key to open it. Received media is described to wagate by
//! [`MediaSource`], kept as opaque JSON in [`Media::source`], so wagate can ask for
//! the bytes later through [`download`].

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use wacore::download::MediaType;
use wagate_engine::{Content, Media};
use whatsapp_rust::Client;
use whatsapp_rust::UploadOptions;
use whatsapp_rust::download::DownloadParams;

/// Where an uploaded file is and how it was encrypted: what a media message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uploaded {
    pub(crate) url: String,
    pub(crate) direct_path: String,
    pub(crate) media_key: Vec<u8>,
    pub(crate) file_sha256: Vec<u8>,
    pub(crate) file_enc_sha256: Vec<u8>,
    pub(crate) file_length: u64,
    pub(crate) media_key_timestamp: i64,
    /// Seek table for audio and video.
    pub(crate) streaming_sidecar: Option<Vec<u8>>,
}

/// The kinds of file WhatsApp encrypts with different keys; named in [`MediaSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl Kind {
    pub(crate) fn of(content: &Content) -> Option<Self> {
        match content {
            Content::Image { .. } => Some(Self::Image),
            Content::Video { .. } => Some(Self::Video),
            Content::Audio { .. } => Some(Self::Audio),
            Content::Document { .. } => Some(Self::Document),
            Content::Sticker { .. } => Some(Self::Sticker),
            _ => None,
        }
    }

    fn media_type(self) -> MediaType {
        match self {
            Self::Image => MediaType::Image,
            Self::Video => MediaType::Video,
            Self::Audio => MediaType::Audio,
            Self::Document => MediaType::Document,
            Self::Sticker => MediaType::Sticker,
        }
    }
}

/// What [`download`] needs to fetch and open a received file. Holds the file's key:
/// wagate keeps it but never shows it to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MediaSource {
    pub(crate) kind: Kind,
    pub(crate) direct_path: String,
    /// Hex.
    pub(crate) media_key: String,
    /// Hex SHA-256 of the plain bytes.
    pub(crate) file_sha256: String,
    /// Hex SHA-256 of the encrypted bytes.
    pub(crate) file_enc_sha256: String,
    pub(crate) file_length: u64,
}

impl MediaSource {
    /// The source of a received file; `None` when the message lacks what a download needs.
    pub(crate) fn new(
        kind: Kind,
        direct_path: Option<&str>,
        media_key: Option<&[u8]>,
        file_sha256: Option<&[u8]>,
        file_enc_sha256: Option<&[u8]>,
        file_length: Option<u64>,
    ) -> Option<Self> {
        Some(Self {
            kind,
            direct_path: direct_path.filter(|p| !p.is_empty())?.to_owned(),
            media_key: hex::encode(media_key?),
            file_sha256: hex::encode(file_sha256?),
            file_enc_sha256: hex::encode(file_enc_sha256?),
            file_length: file_length.unwrap_or_default(),
        })
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Encrypts and uploads the file `content` carries. An upload that fails may work
/// later, so the error is for a retry; a file WhatsApp cannot take is refused at once.
pub(crate) async fn upload(client: &Client, content: &Content) -> Result<Option<Uploaded>, UploadError> {
    let (Some(kind), Some(media)) = (Kind::of(content), content.media()) else { return Ok(None) };
    check(kind, media)?;
    let response = client
        .upload(media.data.to_vec(), kind.media_type(), UploadOptions::default())
        .await
        .map_err(|e| UploadError::Temporary(format!("uploading the {} failed: {e:#}", content.kind())))?;
    Ok(Some(Uploaded {
        url: response.url,
        direct_path: response.direct_path,
        media_key: response.media_key.to_vec(),
        file_sha256: response.file_sha256.to_vec(),
        file_enc_sha256: response.file_enc_sha256.to_vec(),
        file_length: response.file_length,
        media_key_timestamp: response.media_key_timestamp,
        streaming_sidecar: response.streaming_sidecar,
    }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UploadError {
    /// The file itself is wrong; sending it again will not help.
    Refused(String),
    Temporary(String),
}

/// What WhatsApp would refuse, said before anything is uploaded.
fn check(kind: Kind, media: &Media) -> Result<(), UploadError> {
    if media.data.is_empty() {
        return Err(UploadError::Refused("the media has no bytes to send".into()));
    }
    if kind == Kind::Sticker && !is_webp(&media.data) {
        return Err(UploadError::Refused("a sticker must be a WebP image (image/webp)".into()));
    }
    Ok(())
}

/// A RIFF container holding WebP.
pub(crate) fn is_webp(data: &[u8]) -> bool {
    data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP"
}

/// Fetches and decrypts a received file, and checks it is the file the message named.
pub(crate) async fn download(client: &Client, media: &Media) -> Result<Vec<u8>, String> {
    let value = media.source.clone().ok_or("this media has no source to download it from")?;
    let source: MediaSource =
        serde_json::from_value(value).map_err(|e| format!("this media's source is not one this engine wrote: {e}"))?;
    let key = hex::decode(&source.media_key).map_err(|e| format!("the media key in the source is not hex: {e}"))?;
    let plain = hex::decode(&source.file_sha256).map_err(|e| format!("the file hash in the source is not hex: {e}"))?;
    let enc = hex::decode(&source.file_enc_sha256)
        .map_err(|e| format!("the encrypted file hash in the source is not hex: {e}"))?;
    let params = DownloadParams::encrypted(
        &source.direct_path,
        &key,
        &plain,
        &enc,
        source.file_length,
        source.kind.media_type(),
    );
    let bytes =
        client.download_from_params(&params).await.map_err(|e| format!("downloading the media failed: {e:#}"))?;
    let got = hex::encode(sha2::Sha256::digest(&bytes));
    if got != source.file_sha256 {
        return Err(format!(
            "the downloaded media has SHA-256 {got}, not the {} the message named",
            source.file_sha256
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn files_whatsapp_would_refuse_are_refused_before_uploading() {
        let empty = Media::from_bytes("image/png", Bytes::new());
        assert!(matches!(check(Kind::Image, &empty), Err(UploadError::Refused(_))));
        let png_sticker = Media::from_bytes("image/webp", Bytes::from_static(b"\x89PNG\r\n\x1a\n0000"));
        assert!(matches!(check(Kind::Sticker, &png_sticker), Err(UploadError::Refused(why)) if why.contains("WebP")));
        let webp = Media::from_bytes("image/webp", Bytes::from_static(b"RIFF\x04\x00\x00\x00WEBPVP8 "));
        assert_eq!(check(Kind::Sticker, &webp), Ok(()));
    }

    #[test]
    fn a_source_needs_everything_a_download_needs() {
        let source =
            MediaSource::new(Kind::Image, Some("/v/x"), Some(&[1; 32]), Some(&[2; 32]), Some(&[3; 32]), Some(5));
        let json = source.expect("complete").to_json();
        assert_eq!(json["kind"], "image");
        assert_eq!(json["media_key"], hex::encode([1; 32]));
        assert!(MediaSource::new(Kind::Image, None, Some(&[1; 32]), Some(&[2; 32]), Some(&[3; 32]), None).is_none());
        assert!(MediaSource::new(Kind::Image, Some("/v/x"), None, Some(&[2; 32]), Some(&[3; 32]), None).is_none());
    }
}
