//! Media files as clients fetch them (`GET /media/{id}`), and received media, which is
//! downloaded from WhatsApp in the background after the message is committed, or on
//! demand when a client asks for it first. Received media is stored under the received
//! message's id, so the message's `media_id` names it before it is downloaded.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use serde_json::Value;
use tracing::{debug, warn};
use wagate_engine::{IncomingMessage, Media, Session};
use wagate_store::Store;
use wagate_types::{Direction, MessageId, SessionId, TenantId};

use crate::media::{MediaError, MediaKind, MediaStore, StoredMedia};
use crate::media_send::is_media;
use crate::received::MEDIA_SOURCE;
use crate::{Error, Gateway, MessageRecord, Result};

/// Downloads one session's received media into the media store.
pub(crate) struct Download {
    pub store: Store,
    pub media: MediaStore,
    pub session: Arc<dyn Session>,
    pub tenant: TenantId,
    pub session_id: SessionId,
}

impl Download {
    /// Downloads the media of a message just received. Failures are logged only: a
    /// client asking for the file later tries again.
    pub(crate) async fn received(self, message: IncomingMessage) {
        let Some(file) = message.content.media() else { return };
        let filename = match &message.content {
            wagate_engine::Content::Document { filename, .. } => Some(filename.as_str()),
            _ => None,
        };
        let id = match self.store.inbound_id(self.session_id, &message.chat, &message.sender, &message.wa_id).await {
            Ok(Some(id)) => id,
            Ok(None) => return warn!(wa_id = %message.wa_id, "received media of a message that is not stored"),
            Err(e) => return warn!(error = %e, "could not find a received message to download its media"),
        };
        match self.fetch(id, file, filename).await {
            Ok(stored) => debug!(media_id = %stored.id, size = stored.size, "received media downloaded"),
            Err(e) => warn!(media_id = %id, error = format!("{e:#}"), "could not download received media"),
        }
    }

    async fn fetch(&self, id: MessageId, file: &Media, filename: Option<&str>) -> anyhow::Result<StoredMedia> {
        let bytes = self.session.download(file).await.context("download from WhatsApp")?;
        let stored = self
            .media
            .put(&self.tenant, &id.to_string(), &file.mimetype, filename, bytes)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("store received media")?;
        Ok(stored)
    }
}

impl Gateway {
    /// A media file and its bytes: one a client sent, or a received message's (by its
    /// message id), downloaded now if it was not yet. 503 when that needs a session
    /// that is not connected.
    pub async fn media_file(&self, tenant: &TenantId, id: &str) -> Result<(StoredMedia, Bytes)> {
        let not_found = || Error::NotFound(format!("media {id}"));
        if let Some(stored) = self.media.get(tenant, id).await.map_err(internal)? {
            let bytes = self.media.bytes(tenant, id).await.map_err(internal)?.ok_or_else(not_found)?;
            return Ok((stored, bytes));
        }
        let message_id = MessageId::parse(id).map_err(|_| not_found())?;
        let record = self.store.message(tenant, message_id).await.context("load message")?.ok_or_else(not_found)?;
        if record.direction != Direction::Inbound || !is_media(&record.kind) {
            return Err(not_found());
        }
        let file = received_media(&record).ok_or_else(not_found)?;
        let session = self.sessions.connected(tenant, &record.session_name).await?;
        let download = Download {
            store: self.store.clone(),
            media: self.media.clone(),
            session,
            tenant: tenant.clone(),
            session_id: record.session_id,
        };
        let filename = record.content.get("document").and_then(|d| d.get("filename")).and_then(Value::as_str);
        let stored = download
            .fetch(message_id, &file, filename)
            .await
            .map_err(|e| Error::Unavailable(format!("the media could not be downloaded from WhatsApp now: {e:#}")))?;
        let bytes = self.media.bytes(tenant, id).await.map_err(internal)?.ok_or_else(not_found)?;
        Ok((stored, bytes))
    }
}

/// The engine's description of a received message's media, rebuilt from what was stored.
fn received_media(record: &MessageRecord) -> Option<Media> {
    let source = record.content.get(MEDIA_SOURCE)?.clone();
    let object = record.content.get(&record.kind)?;
    let number = |key: &str| object.get(key).and_then(Value::as_u64);
    Some(Media {
        mimetype: object.get("mimetype").and_then(Value::as_str).unwrap_or_default().to_owned(),
        data: Bytes::new(),
        sha256: object.get("sha256").and_then(Value::as_str).unwrap_or_default().to_owned(),
        size: number("size").unwrap_or(0),
        thumbnail: None,
        width: number("width").and_then(|n| u32::try_from(n).ok()),
        height: number("height").and_then(|n| u32::try_from(n).ok()),
        seconds: number("seconds").and_then(|n| u32::try_from(n).ok()),
        source: Some(source),
    })
}

fn internal(e: MediaError) -> Error {
    Error::Internal(anyhow::anyhow!("{e}").context("read media"))
}

/// Whether media of this kind is shown as an attachment to save rather than inline.
pub fn is_attachment(kind: MediaKind) -> bool {
    kind == MediaKind::Document
}
