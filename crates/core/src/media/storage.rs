//! Where media bytes live: files in the media directory (the default), or objects in
//! S3-compatible storage.

use anyhow::Context as _;
use bytes::Bytes;

use super::blobs::Blobs;
use super::s3::S3Blobs;

#[derive(Debug, Clone)]
pub enum Storage {
    Disk(Blobs),
    S3(Box<S3Blobs>),
}

impl Storage {
    /// Stores the bytes of `id` durably, replacing any earlier ones.
    pub async fn write(&self, id: &str, bytes: Bytes) -> anyhow::Result<()> {
        match self {
            Self::Disk(blobs) => {
                let (blobs, id) = (blobs.clone(), id.to_owned());
                tokio::task::spawn_blocking(move || blobs.write(&id, &bytes)).await.context("write media file")?
            }
            Self::S3(s3) => s3.write(id, bytes).await,
        }
    }

    /// The bytes of `id`, or `None` when there are none.
    pub async fn read(&self, id: &str) -> anyhow::Result<Option<Bytes>> {
        match self {
            Self::Disk(blobs) => blobs.read(id).await,
            Self::S3(s3) => s3.read(id).await,
        }
    }

    /// Removes the bytes of `id` if they are there.
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        match self {
            Self::Disk(blobs) => blobs.remove(id).await,
            Self::S3(s3) => s3.remove(id).await,
        }
    }
}
