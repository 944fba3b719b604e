//! Rows describing media files. The files themselves live on disk, managed by
//! `wagate_core::media`; a row is inserted only once its file is safely written.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::TenantId;

use crate::time_ms::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

/// One media file wagate keeps: sent by a client or received by a session.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaRecord {
    pub id: String,
    pub tenant: TenantId,
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    pub mimetype: String,
    pub size: u64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub filename: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub seconds: Option<u32>,
    /// A small JPEG preview.
    pub thumbnail: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
}

// The thumbnail is bytes nobody wants to read in a log line.
impl std::fmt::Debug for MediaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("kind", &self.kind)
            .field("mimetype", &self.mimetype)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .field("filename", &self.filename)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seconds", &self.seconds)
            .field("thumbnail", &self.thumbnail.as_ref().map(|t| format!("<{} bytes>", t.len())))
            .field("created_at", &self.created_at)
            .finish()
    }
}

const COLUMNS: &str =
    "id, tenant_id, kind, mimetype, size, sha256, filename, width, height, seconds, thumbnail, created_at";

impl Store {
    /// Inserts a media row. Returns `false`, changing nothing, when a row with this id
    /// already exists: storing the same received media twice is not an error.
    pub async fn insert_media(&self, media: &MediaRecord) -> Result<bool> {
        let size = i64::try_from(media.size).map_err(|_| StoreError::Corrupt(format!("media size {}", media.size)))?;
        let sql = format!(
            "INSERT INTO media ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO NOTHING RETURNING id"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(media.id.clone())
            .bind(media.tenant.as_str().to_owned())
            .bind(media.kind.clone())
            .bind(media.mimetype.clone())
            .bind(size)
            .bind(media.sha256.clone())
            .bind(media.filename.clone())
            .bind(media.width.map(i64::from))
            .bind(media.height.map(i64::from))
            .bind(media.seconds.map(i64::from))
            .bind(media.thumbnail.clone())
            .bind(to_ms(media.created_at))
            .fetch_optional(&self.pool)
            .await?;
        Ok(inserted.is_some())
    }

    /// The media row `id` of `tenant`, if there is one.
    pub async fn media(&self, tenant: &TenantId, id: &str) -> Result<Option<MediaRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM media WHERE id = $1 AND tenant_id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(tenant.as_str()).fetch_optional(&self.pool).await?;
        row.as_ref().map(media_from_row).transpose()
    }

    /// Whether any tenant has a media row `id`: ids name files in one directory, so an
    /// id one tenant holds must not be written for another.
    pub async fn media_id_taken(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS taken FROM media WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.is_some())
    }

    /// Deletes the media row `id` of `tenant`; `false` when there was none. The file is
    /// the caller's to remove afterwards.
    pub async fn delete_media(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM media WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn media_from_row(row: &AnyRow) -> Result<MediaRecord> {
    let size: i64 = row.try_get("size")?;
    Ok(MediaRecord {
        id: row.try_get("id")?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        kind: row.try_get("kind")?,
        mimetype: row.try_get("mimetype")?,
        size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("media size {size}")))?,
        sha256: row.try_get("sha256")?,
        filename: row.try_get("filename")?,
        width: dimension(row, "width")?,
        height: dimension(row, "height")?,
        seconds: dimension(row, "seconds")?,
        thumbnail: row.try_get("thumbnail")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

fn dimension(row: &AnyRow, column: &str) -> Result<Option<u32>> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("media {column} {v}")))).transpose()
}
