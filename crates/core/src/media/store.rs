//! [`MediaStore`]: taking media in and giving it back out.

use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use wagate_store::{MediaRecord, Store};
use wagate_types::TenantId;

use super::blobs::Blobs;
use super::fetch::Fetcher;
use super::s3::S3Blobs;
use super::storage::Storage;
use super::{
    ImagePolicy, MediaConfig, MediaError, MediaKind, MediaSource, StoredMedia, clean_filename, duration, images, sniff,
};

/// Media files (in the media directory, or in S3-compatible storage), described by
/// rows in the store.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    storage: Storage,
    fetcher: Fetcher,
    config: MediaConfig,
}

/// A file checked and prepared, not stored yet.
struct Prepared {
    bytes: Bytes,
    kind: MediaKind,
    mimetype: String,
    filename: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    seconds: Option<u32>,
    thumbnail: Option<Bytes>,
}

impl MediaStore {
    /// Opens the media directory (sweeping half-written files) or the S3 bucket, and
    /// sets up the URL fetcher.
    pub fn new(store: Store, config: MediaConfig) -> anyhow::Result<Self> {
        let storage = match &config.s3 {
            Some(s3) => Storage::S3(Box::new(S3Blobs::new(s3, config.max_bytes)?)),
            None => Storage::Disk(Blobs::open(&config.dir)?),
        };
        let fetcher = Fetcher::new(config.allow.clone(), config.fetch_timeout).context("set up media fetching")?;
        Ok(Self { inner: Arc::new(Inner { store, storage, fetcher, config }) })
    }

    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }

    /// Takes in a client's file for a message of `kind`: fetched, decoded or taken as
    /// uploaded, checked to fit the kind, pictures prepared by `images`, then stored.
    /// Nothing is written unless all of that succeeded.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, kind = kind.as_str()))]
    pub async fn ingest(
        &self,
        tenant: &TenantId,
        kind: MediaKind,
        source: MediaSource,
        images: &ImagePolicy,
    ) -> Result<StoredMedia, MediaError> {
        let (bytes, filename, claimed) = self.load(source).await?;
        let policy = *images;
        let prepared = tokio::task::spawn_blocking(move || prepare(kind, bytes, filename, claimed, &policy))
            .await
            .context("prepare media")??;
        let id = uuid::Uuid::now_v7().to_string();
        self.keep(tenant, &id, prepared).await
    }

    /// A client's picture made a group or profile picture (a square JPEG); nothing kept.
    pub async fn profile_picture(&self, source: MediaSource) -> Result<Bytes, MediaError> {
        let (bytes, _, _) = self.load(source).await?;
        tokio::task::spawn_blocking(move || super::images::profile_picture(&bytes)).await.context("prepare picture")?
    }

    /// A client's file, fetched, decoded or taken as uploaded, within the size limit;
    /// with its file name and the type the client claimed, if any.
    async fn load(&self, source: MediaSource) -> Result<(Bytes, Option<String>, Option<String>), MediaError> {
        let max = self.inner.config.max_bytes;
        let (bytes, filename, claimed) = match source {
            MediaSource::Url(url) => {
                let fetched = self.inner.fetcher.fetch(&url, max).await?;
                (fetched.bytes, fetched.filename, fetched.content_type)
            }
            MediaSource::Base64(data) => {
                let (bytes, claimed) = decode_base64(&data, max)?;
                (bytes, None, claimed)
            }
            MediaSource::Upload { bytes, filename, content_type } => {
                if bytes.len() as u64 > max {
                    return Err(MediaError::TooLarge { limit: max });
                }
                (bytes, filename.as_deref().and_then(clean_filename), content_type)
            }
        };
        if bytes.is_empty() {
            return Err(MediaError::Invalid("the file is empty".to_owned()));
        }
        Ok((bytes, filename, claimed))
    }

    /// Keeps media a session received, under the id the caller gives (the received
    /// message's). Putting the same id again returns what is stored and changes nothing,
    /// so a redelivered message costs no second file.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, id))]
    pub async fn put(
        &self,
        tenant: &TenantId,
        id: &str,
        mimetype: &str,
        filename: Option<&str>,
        bytes: Bytes,
    ) -> Result<StoredMedia, MediaError> {
        check_id(id)?;
        if let Some(stored) = self.get(tenant, id).await? {
            return Ok(stored);
        }
        // The file of another tenant's media must not be overwritten.
        if self.inner.store.media_id_taken(id).await? {
            return Err(MediaError::Invalid(format!("media id {id} is already in use")));
        }
        let max = self.inner.config.max_bytes;
        if bytes.len() as u64 > max {
            return Err(MediaError::TooLarge { limit: max });
        }
        // WhatsApp's mimetype (with parameters such as `codecs=opus`) is what the sender's
        // app said; it stands unless it is missing.
        let mimetype = match mimetype.trim() {
            "" => sniff::document_type(sniff::sniff(&bytes), None),
            given => given.to_owned(),
        };
        let filename = filename.and_then(clean_filename);
        let prepared = tokio::task::spawn_blocking(move || {
            let kind = sniff::kind_of(&mimetype);
            // A received picture gets its size and a preview when it decodes; one that
            // does not is still kept, as received.
            let decoded = (kind == MediaKind::Image).then(|| images::decode(&bytes).ok()).flatten();
            let thumbnail = decoded.as_ref().and_then(|(_, p)| images::thumbnail(p).ok());
            let (width, height) = decoded.as_ref().map(|(_, p)| (p.width(), p.height())).unzip();
            let seconds = duration::seconds(&mimetype, &bytes);
            Prepared { bytes, kind, mimetype, filename, width, height, seconds, thumbnail }
        })
        .await
        .context("prepare received media")?;
        self.keep(tenant, id, prepared).await
    }

    /// The description of media `id`, if `tenant` has it.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<StoredMedia>, MediaError> {
        let Some(record) = self.inner.store.media(tenant, id).await? else { return Ok(None) };
        stored(record).map(Some)
    }

    /// The bytes of media `id`, if `tenant` has it.
    pub async fn bytes(&self, tenant: &TenantId, id: &str) -> Result<Option<Bytes>, MediaError> {
        if self.inner.store.media(tenant, id).await?.is_none() {
            return Ok(None);
        }
        match self.inner.storage.read(id).await? {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(MediaError::Internal(anyhow::anyhow!("media {id} has a row but no file"))),
        }
    }

    /// Writes the file, then the row: a crash in between leaves an orphan file, never a
    /// row without its file.
    async fn keep(&self, tenant: &TenantId, id: &str, prepared: Prepared) -> Result<StoredMedia, MediaError> {
        let record = MediaRecord {
            id: id.to_owned(),
            tenant: tenant.clone(),
            kind: prepared.kind.as_str().to_owned(),
            mimetype: prepared.mimetype,
            size: prepared.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&prepared.bytes)),
            filename: prepared.filename,
            width: prepared.width,
            height: prepared.height,
            seconds: prepared.seconds,
            thumbnail: prepared.thumbnail.map(|t| t.to_vec()),
            created_at: OffsetDateTime::now_utc(),
        };
        self.inner.storage.write(id, prepared.bytes).await?;
        match self.inner.store.insert_media(&record).await {
            Ok(true) => stored(record),
            // Another put of the same id won the race; its row (and identical file) stand.
            Ok(false) => self
                .get(tenant, id)
                .await?
                .ok_or_else(|| MediaError::Internal(anyhow::anyhow!("media id {id} is taken by another tenant"))),
            Err(e) => {
                if let Err(cleanup) = self.inner.storage.remove(id).await {
                    tracing::warn!(error = %format!("{cleanup:#}"), "media file left without a row");
                }
                Err(e.into())
            }
        }
    }
}

/// Checks a file against its kind and prepares it. CPU-heavy for pictures: run it on a
/// blocking thread.
fn prepare(
    kind: MediaKind,
    bytes: Bytes,
    filename: Option<String>,
    claimed: Option<String>,
    policy: &ImagePolicy,
) -> Result<Prepared, MediaError> {
    let sniffed = sniff::sniff(&bytes);
    let (bytes, mimetype, width, height, thumbnail, filename) = match kind {
        MediaKind::Image => {
            let picture = images::prepare(bytes, policy)?;
            let size = (Some(picture.width), Some(picture.height));
            (picture.bytes, picture.mimetype.to_owned(), size.0, size.1, picture.thumbnail, None)
        }
        MediaKind::Sticker => {
            let picture = images::sticker(&bytes)?;
            (picture.bytes, picture.mimetype.to_owned(), Some(picture.width), Some(picture.height), None, None)
        }
        MediaKind::Video | MediaKind::Audio => {
            let mimetype = sniff::check_playable(kind, sniffed)?;
            (bytes, mimetype.to_owned(), None, None, None, filename)
        }
        MediaKind::Document => {
            let mimetype = sniff::document_type(sniffed, claimed.as_deref());
            (bytes, mimetype, None, None, None, filename)
        }
    };
    let seconds = duration::seconds(&mimetype, &bytes);
    Ok(Prepared { bytes, kind, mimetype, filename, width, height, seconds, thumbnail })
}

/// Decodes base64 (standard alphabet, padding optional, line breaks ignored, a `data:`
/// URL prefix allowed), refusing an oversized one before decoding it. Returns the bytes
/// and the type a `data:` URL named.
fn decode_base64(data: &str, max: u64) -> Result<(Bytes, Option<String>), MediaError> {
    let data = data.trim();
    let (claimed, payload) = match data.strip_prefix("data:").and_then(|rest| rest.split_once(',')) {
        Some((meta, payload)) => {
            let Some(mime) = meta.strip_suffix(";base64") else {
                return Err(MediaError::Invalid("a data: URL must be base64 (data:<type>;base64,…)".to_owned()));
            };
            (Some(mime.to_owned()).filter(|m| !m.is_empty()), payload)
        }
        None => (None, data),
    };
    let compact: Vec<u8> = payload.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if (compact.len() as u64 / 4).saturating_mul(3) > max {
        return Err(MediaError::TooLarge { limit: max });
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(&compact).map_err(|e| MediaError::Invalid(format!("data is not valid base64: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(MediaError::TooLarge { limit: max });
    }
    Ok((Bytes::from(bytes), claimed))
}

/// Ids become file names: only letters, digits, `-` and `_`, at most 128.
fn check_id(id: &str) -> Result<(), MediaError> {
    let fine =
        !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine { Ok(()) } else { Err(MediaError::Invalid(format!("{id:?} is not a usable media id"))) }
}

fn stored(record: MediaRecord) -> Result<StoredMedia, MediaError> {
    let kind = MediaKind::parse(&record.kind).ok_or_else(|| {
        MediaError::Internal(anyhow::anyhow!("media {} has an unknown kind {:?}", record.id, record.kind))
    })?;
    Ok(StoredMedia {
        id: record.id,
        kind,
        mimetype: record.mimetype,
        size: record.size,
        sha256: record.sha256,
        filename: record.filename,
        width: record.width,
        height: record.height,
        seconds: record.seconds,
        thumbnail: record.thumbnail.map(Bytes::from),
    })
}
