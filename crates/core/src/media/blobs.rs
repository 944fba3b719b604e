//! Media files on disk: one file per media id in the media directory. A file is
//! written under a temporary name, synced, and renamed into place (then the directory
//! is synced), so a file under its real name is always complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;

/// Temporary files start with this, so they can never be taken for a media id and a
/// start can sweep the ones a crash left.
const TEMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    /// Removes temporary files a crash left. The directory itself is made with the
    /// first file, so a gateway that never sees media leaves no trace on disk.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        if !dir.exists() {
            return Ok(Self { dir: dir.to_owned() });
        }
        let entries = std::fs::read_dir(dir).with_context(|| format!("list media directory {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("list media directory {}", dir.display()))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                std::fs::remove_file(&path).with_context(|| format!("remove stale {}", path.display()))?;
            }
        }
        Ok(Self { dir: dir.to_owned() })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Writes the file of `id` durably, replacing any earlier one. Blocking: call it
    /// from a blocking task.
    pub fn write(&self, id: &str, bytes: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("create media directory {}", self.dir.display()))?;
        let temp = self.dir.join(format!("{TEMP_PREFIX}{id}-{}", uuid::Uuid::now_v7().simple()));
        let written = (|| {
            let mut file = std::fs::File::create_new(&temp).context("create")?;
            file.write_all(bytes).context("write")?;
            file.sync_all().context("sync")
        })();
        if let Err(e) = written.and_then(|()| std::fs::rename(&temp, self.path(id)).context("rename into place")) {
            std::fs::remove_file(&temp).ok();
            return Err(e.context(format!("write media file {id} in {}", self.dir.display())));
        }
        // The rename is durable only once the directory entry is.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("sync media directory {}", self.dir.display()))
    }

    /// The bytes of `id`, or `None` when there is no such file.
    pub async fn read(&self, id: &str) -> anyhow::Result<Option<Bytes>> {
        match tokio::fs::read(self.path(id)).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("read media file {id}"))),
        }
    }

    /// Removes the file of `id` if it is there.
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::Error::new(e).context(format!("remove media file {id}")))
            }
            _ => Ok(()),
        }
    }

    /// How many files (of any kind) are in the directory; for tests.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_written_file_reads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();

        blobs.write("m1", b"first").unwrap();
        blobs.write("m1", b"second").unwrap();

        assert_eq!(blobs.read("m1").await.unwrap().as_deref(), Some(&b"second"[..]));
        assert_eq!(blobs.count(), 1);
        assert_eq!(blobs.read("m2").await.unwrap(), None);
        blobs.remove("m1").await.unwrap();
        blobs.remove("m1").await.unwrap();
        assert_eq!(blobs.count(), 0);
    }

    #[test]
    fn opening_sweeps_what_a_crash_left_half_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".tmp-m1-abc"), b"half").unwrap();
        std::fs::write(dir.path().join("m2"), b"whole").unwrap();

        let blobs = Blobs::open(dir.path()).unwrap();

        assert_eq!(blobs.count(), 1, "the complete file stays");
    }
}
