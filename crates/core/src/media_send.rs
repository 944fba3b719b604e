//! Media messages: the file is taken in (fetched, decoded or uploaded, checked, stored)
//! when the message is accepted, so a bad file is refused before anything is queued;
//! the dispatcher reads the stored bytes back when it sends.

use serde_json::{Value, json};
use wagate_engine::{Content, Media};
use wagate_store::ImageSettings;
use wagate_types::TenantId;

use crate::media::{ImagePolicy, MediaError, MediaKind, MediaSource, MediaStore, StoredMedia};
use crate::{Error, MessageRecord};

/// A file to send and what goes with it.
#[derive(Debug)]
pub struct NewMedia {
    pub kind: MediaKind,
    pub source: MediaSource,
    /// Images, videos, documents.
    pub caption: Option<String>,
    /// Audio: send as a voice note.
    pub ptt: bool,
    /// Documents: the name the recipient sees; the file's own name when left out.
    pub filename: Option<String>,
    /// Documents: the type the recipient's phone opens it as; sniffed when left out.
    pub mimetype: Option<String>,
}

/// Takes the file in, pictures prepared by `images` (the gateway's `[media]` settings
/// when `None`), and returns the stored content (`{"image": {...}}`).
pub(crate) async fn ingest(
    media: &MediaStore,
    tenant: &TenantId,
    new: NewMedia,
    images: Option<ImageSettings>,
) -> crate::Result<Value> {
    let kind = new.kind;
    let policy = images.map_or(media.config().images, |i| ImagePolicy {
        max_side: i.max_side,
        jpeg_quality: i.jpeg_quality,
        reencode: i.reencode,
    });
    let stored = media.ingest(tenant, kind, new.source, &policy).await.map_err(|e| media_error(kind, e))?;
    Ok(json!({ kind.as_str(): describe(&stored, kind, new.caption, new.ptt, new.filename, new.mimetype) }))
}

/// What clients see of a stored file: never its bytes.
fn describe(
    stored: &StoredMedia,
    kind: MediaKind,
    caption: Option<String>,
    ptt: bool,
    filename: Option<String>,
    mimetype: Option<String>,
) -> Value {
    let mut object = json!({
        "media_id": stored.id,
        "mimetype": mimetype.unwrap_or_else(|| stored.mimetype.clone()),
        "size": stored.size,
        "sha256": stored.sha256,
        "width": stored.width,
        "height": stored.height,
        "seconds": stored.seconds,
    });
    match kind {
        MediaKind::Image | MediaKind::Video => object["caption"] = json!(caption),
        MediaKind::Audio => object["ptt"] = json!(ptt),
        MediaKind::Document => {
            object["caption"] = json!(caption);
            object["filename"] = json!(filename.or_else(|| stored.filename.clone()).unwrap_or_else(|| "file".into()));
        }
        MediaKind::Sticker => {}
    }
    object
}

/// The media error as the client's field error (or a 413, or an internal one).
pub(crate) fn media_error(kind: MediaKind, e: MediaError) -> Error {
    field_error(kind.as_str(), e)
}

/// The media error as a problem with `field` (or a 413, or an internal one).
pub(crate) fn field_error(field: &str, e: MediaError) -> Error {
    match e {
        MediaError::Invalid(why) | MediaError::Refused(why) => Error::invalid(field, why),
        e @ MediaError::Unreachable(_) => Error::invalid(field, e.to_string()),
        MediaError::TooLarge { limit } => Error::TooLarge { limit },
        MediaError::Internal(e) => Error::Internal(e.context("take in media")),
    }
}

/// The engine's content of a stored media message, with the file's bytes. Errors are
/// permanent: a file that is gone does not come back by retrying.
pub(crate) async fn engine_content(media: &MediaStore, record: &MessageRecord) -> Result<Content, String> {
    let kind = record.kind.as_str();
    let object = record.content.get(kind).ok_or_else(|| format!("the stored {kind} message has no {kind}"))?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let id = text("media_id").ok_or_else(|| format!("the stored {kind} message names no media"))?;
    let bytes = media
        .bytes(&record.tenant, &id)
        .await
        .map_err(|e| format!("could not read media {id}: {e}"))?
        .ok_or_else(|| format!("media {id} is gone from the media store"))?;
    let stored = media.get(&record.tenant, &id).await.map_err(|e| format!("could not read media {id}: {e}"))?;
    let mimetype = text("mimetype").or_else(|| stored.as_ref().map(|s| s.mimetype.clone())).unwrap_or_default();
    let mut file = Media::from_bytes(mimetype, bytes);
    if let Some(stored) = stored {
        file.width = stored.width;
        file.height = stored.height;
        file.seconds = stored.seconds;
        file.thumbnail = stored.thumbnail;
    }
    let caption = text("caption");
    Ok(match kind {
        "image" => Content::Image { media: file, caption },
        "video" => Content::Video { media: file, caption },
        "audio" => Content::Audio { media: file, ptt: object.get("ptt").and_then(Value::as_bool).unwrap_or(false) },
        "document" => Content::Document { media: file, filename: text("filename").unwrap_or_default(), caption },
        "sticker" => Content::Sticker { media: file },
        other => return Err(format!("'{other}' is not a media kind")),
    })
}

/// Whether a stored message of `kind` carries a file.
pub fn is_media(kind: &str) -> bool {
    MediaKind::parse(kind).is_some()
}
