//! Media files: taken in from clients (a URL the server fetches, base64, or an upload),
//! checked to be what their kind says, pictures re-encoded, then kept as a file in the
//! media directory plus a row in the `media` table. Received media is kept the same
//! way through [`MediaStore::put`].
//!
//! - [`guard`]: which addresses a URL may lead to.
//! - `fetch`: the download, under the guard, a size limit and a timeout.
//! - `sniff`: what a file really is, and whether it fits its kind.
//! - `images`: decoding, re-encoding, stickers, thumbnails.
//! - `duration`: how long videos and voice notes play.
//! - `blobs`: the files on disk.

mod blobs;
mod duration;
pub(crate) mod fetch;
pub mod guard;
mod images;
mod s3;
mod sniff;
mod storage;
mod store;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use guard::AllowList;
pub use s3::S3Config;
pub use store::MediaStore;

/// Where media goes and what may come in.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The directory holding one file per media id.
    pub dir: PathBuf,
    /// The largest file taken in, however it comes.
    pub max_bytes: u64,
    /// The longest a URL download may take, connecting included.
    pub fetch_timeout: Duration,
    /// Private hosts and networks that URLs may nevertheless point to.
    pub allow: AllowList,
    /// How pictures sent as `image` are prepared, unless a caller says otherwise.
    pub images: ImagePolicy,
    /// Keep files in S3-compatible storage instead of `dir`.
    pub s3: Option<S3Config>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/media"),
            max_bytes: 64 * 1024 * 1024,
            fetch_timeout: Duration::from_secs(30),
            allow: AllowList::default(),
            images: ImagePolicy::default(),
            s3: None,
        }
    }
}

/// How a picture sent as `image` is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePolicy {
    /// The longest side, in pixels, of a re-encoded picture.
    pub max_side: u32,
    /// JPEG quality (1–100) of a re-encoded picture.
    pub jpeg_quality: u8,
    /// Re-encode to JPEG: WhatsApp shows JPEG everywhere, and a phone photo of 12 MP
    /// is shown at 1280 px anyway. `false` keeps the client's bytes.
    pub reencode: bool,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        Self { max_side: 1280, jpeg_quality: 78, reencode: true }
    }
}

/// The kind of message a file is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub const ALL: [MediaKind; 5] = [Self::Image, Self::Video, Self::Audio, Self::Document, Self::Sticker];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// The kind named `s` (`image`, `video`…), if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for MediaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a client's file comes from.
pub enum MediaSource {
    /// An `http`/`https` URL the server downloads.
    Url(String),
    /// The file itself in base64 (standard alphabet, padding optional; a `data:` URL
    /// prefix and line breaks are allowed).
    Base64(String),
    /// A multipart `file` part.
    Upload { bytes: bytes::Bytes, filename: Option<String>, content_type: Option<String> },
}

impl std::fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) => f.debug_tuple("Url").field(url).finish(),
            Self::Base64(data) => write!(f, "Base64(<{} characters>)", data.len()),
            Self::Upload { bytes, filename, content_type } => f
                .debug_struct("Upload")
                .field("bytes", &format_args!("<{} bytes>", bytes.len()))
                .field("filename", filename)
                .field("content_type", content_type)
                .finish(),
        }
    }
}

/// A stored media file.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMedia {
    /// A UUIDv7 for media clients send; the message id for received media.
    pub id: String,
    pub kind: MediaKind,
    pub mimetype: String,
    pub size: u64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub filename: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub seconds: Option<u32>,
    /// A small JPEG preview, for pictures (not stickers) and videos when one could be made.
    pub thumbnail: Option<bytes::Bytes>,
}

impl std::fmt::Debug for StoredMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMedia")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("mimetype", &self.mimetype)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .field("filename", &self.filename)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seconds", &self.seconds)
            .field("thumbnail", &self.thumbnail.as_ref().map(|t| format!("<{} bytes>", t.len())))
            .finish()
    }
}

/// Why media was not taken in. The first four are the client's to fix.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not what the kind needs, not decodable, bad base64 (422).
    #[error("{0}")]
    Invalid(String),
    /// A URL the server will not fetch: a private, loopback or link-local address, or
    /// another scheme than http(s) (422).
    #[error("{0}")]
    Refused(String),
    /// The download failed: no connection, a timeout, an error status (422).
    #[error("the media URL could not be fetched: {0}")]
    Unreachable(String),
    /// Larger than the configured limit (413).
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<wagate_store::StoreError> for MediaError {
    fn from(e: wagate_store::StoreError) -> Self {
        Self::Internal(anyhow::Error::new(e).context("media row"))
    }
}

/// A file name as shown to a recipient: no directories, no control characters, at
/// most 255 bytes; `None` when nothing is left.
pub fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return None;
    }
    let mut end = cleaned.len().min(255);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    Some(cleaned[..end].to_owned())
}
