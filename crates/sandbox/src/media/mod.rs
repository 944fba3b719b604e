//! WhatsApp's media servers: the `w:m` media_conn IQ hands clients an auth token and
//! one host (the sandbox itself); clients upload encrypted blobs to
//! `POST /mms/{type}/{token}` and fetch them back from `GET {direct_path}`.
//!
//! The sandbox never sees plaintext: a blob is AES-CBC ciphertext plus a 10-byte MAC,
//! and `token` is base64url(SHA-256(blob)), the `file_enc_sha256` the message carries.
//! Blobs live in memory, bounded per blob and in total.

mod contact;
mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use self::contact::{MediaError, StoredMedia, media_in};
pub(crate) use self::http::routes;
use crate::server::SandboxHandle;

/// The largest blob an upload may carry, like WhatsApp's limit for documents.
pub const DEFAULT_MAX_BLOB_BYTES: usize = 100 * 1024 * 1024;
/// All blobs together; beyond this uploads are refused with 507.
const MAX_TOTAL_BYTES: usize = 1024 * 1024 * 1024;
/// What the media_conn answer says: routes for 5 minutes, the auth token for 6 hours.
pub(crate) const ROUTE_TTL_SECS: u64 = 300;
pub(crate) const AUTH_TTL_SECS: u64 = 21_600;

/// One stored blob, as tests see it.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBlobInfo {
    /// What the upload answered, e.g. `/v/t62.7118-24/1_…_n.enc?ccb=11-4&oh=…&oe=…`.
    pub direct_path: String,
    /// The upload path's type, e.g. `image` for `/mms/image`.
    pub media_type: String,
    /// Size of the encrypted blob (ciphertext plus MAC).
    pub len: usize,
    /// base64url(SHA-256(blob)), the upload token.
    pub token: String,
}

struct Blob {
    info: MediaBlobInfo,
    /// The `oh` parameter of the direct path; a download must present it.
    oh: String,
    bytes: Bytes,
}

#[derive(Default)]
struct Blobs {
    /// By direct path without its query, e.g. `/v/t62.7118-24/1_…_n.enc`.
    by_path: HashMap<String, Blob>,
    /// Upload token → path, so a repeated upload gets the stored blob back.
    by_token: HashMap<String, String>,
    total_bytes: usize,
    issued: u64,
}

/// The media servers' state, shared by the HTTP routes and the media_conn IQ.
pub(crate) struct MediaStore {
    /// `127.0.0.1:PORT`, the hostname the media_conn answer names.
    host: String,
    /// The `auth` every upload and download must carry.
    auth: String,
    max_blob: AtomicUsize,
    blobs: Mutex<Blobs>,
}

/// Why the media servers refused an upload (HTTP 413, 507 and 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRefusal {
    /// Larger than the per-blob limit.
    TooLarge,
    /// The store's total limit is reached.
    StoreFull,
    /// The token is not base64url(SHA-256(body)).
    TokenMismatch,
}

impl MediaStore {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            host: addr.to_string(),
            auth: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()),
            max_blob: AtomicUsize::new(DEFAULT_MAX_BLOB_BYTES),
            blobs: Mutex::default(),
        }
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn auth(&self) -> &str {
        &self.auth
    }

    pub(crate) fn max_blob(&self) -> usize {
        self.max_blob.load(Ordering::Relaxed)
    }

    fn blobs(&self) -> MutexGuard<'_, Blobs> {
        self.blobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The full `url` an upload answers with: the direct path on this host.
    pub(crate) fn url_of(&self, direct_path: &str) -> String {
        format!("https://{}{direct_path}&mms3=true", self.host)
    }

    /// The direct path of an already stored blob with this upload token.
    pub(crate) fn find_token(&self, token: &str) -> Option<String> {
        let blobs = self.blobs();
        let path = blobs.by_token.get(token)?;
        blobs.by_path.get(path).map(|blob| blob.info.direct_path.clone())
    }

    /// Stores `body` uploaded as `media_type` under `token`; returns its direct path.
    pub(crate) fn put(&self, media_type: &str, token: &str, body: Bytes) -> Result<String, UploadRefusal> {
        if body.len() > self.max_blob() {
            return Err(UploadRefusal::TooLarge);
        }
        if !token_matches(token, &body) {
            return Err(UploadRefusal::TokenMismatch);
        }
        let mut blobs = self.blobs();
        if let Some(path) = blobs.by_token.get(token)
            && let Some(blob) = blobs.by_path.get(path)
        {
            return Ok(blob.info.direct_path.clone());
        }
        if blobs.total_bytes + body.len() > MAX_TOTAL_BYTES {
            return Err(UploadRefusal::StoreFull);
        }
        blobs.issued += 1;
        let name = format!("/v/t62.7118-24/{}_{}_n.enc", blobs.issued, hex(&rand::random::<[u8; 8]>()));
        let oh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>());
        let expires = crate::network::now_secs() + 30 * 24 * 3600;
        let direct_path = format!("{name}?ccb=11-4&oh={oh}&oe={expires:X}&_nc_sid=5e03e0");
        let info = MediaBlobInfo {
            direct_path: direct_path.clone(),
            media_type: media_type.to_owned(),
            len: body.len(),
            token: token.to_owned(),
        };
        blobs.total_bytes += body.len();
        blobs.by_token.insert(token.to_owned(), name.clone());
        blobs.by_path.insert(name, Blob { info, oh, bytes: body });
        Ok(direct_path)
    }

    /// The blob at `path` (without query) if `oh` and `token` name it.
    pub(crate) fn get(&self, path: &str, oh: Option<&str>, token: Option<&str>) -> Option<Bytes> {
        let blobs = self.blobs();
        let blob = blobs.by_path.get(path)?;
        let oh_ok = oh.is_none_or(|oh| oh == blob.oh);
        let token_ok = token.is_none_or(|token| token == blob.info.token);
        (oh_ok && token_ok).then(|| blob.bytes.clone())
    }

    fn list(&self) -> Vec<MediaBlobInfo> {
        let mut list: Vec<_> = self.blobs().by_path.values().map(|blob| blob.info.clone()).collect();
        list.sort_by(|a, b| a.direct_path.cmp(&b.direct_path));
        list
    }

    /// The stored (encrypted) bytes for a direct path, with or without its query.
    fn bytes(&self, direct_path: &str) -> Option<Bytes> {
        let path = direct_path.split('?').next().unwrap_or_default();
        self.blobs().by_path.get(path).map(|blob| blob.bytes.clone())
    }
}

/// Whether `token` is base64url-no-pad(SHA-256(body)), as the client computes it.
pub(crate) fn token_matches(token: &str, body: &[u8]) -> bool {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body)) == token
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SandboxHandle {
    /// Every blob the media servers hold, by direct path.
    pub fn media_blobs(&self) -> Vec<MediaBlobInfo> {
        self.shared.media.list()
    }

    /// The encrypted bytes stored for a direct path (as an upload answered it).
    pub fn media_blob(&self, direct_path: &str) -> Option<Vec<u8>> {
        self.shared.media.bytes(direct_path).map(|bytes| bytes.to_vec())
    }

    /// Changes the largest upload the media servers accept (default 100 MiB).
    pub fn set_max_media_bytes(&self, bytes: usize) {
        self.shared.media.max_blob.store(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> MediaStore {
        MediaStore::new("127.0.0.1:4000".parse().unwrap())
    }

    #[test]
    fn the_token_is_base64url_of_the_sha256_of_the_body() {
        // SHA-256("abc") = ba7816bf…15ad
        assert!(token_matches("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0", b"abc"));
        assert!(!token_matches("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=", b"abc"));
        assert!(!token_matches("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", b"abc"));
        assert!(!token_matches("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0", b"abd"));
    }

    #[test]
    fn blobs_are_stored_once_and_found_by_path_token_and_oh() {
        let store = store();
        let body = Bytes::from_static(b"ciphertext and mac");
        let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&body));
        assert_eq!(store.put("image", "wrong", body.clone()), Err(UploadRefusal::TokenMismatch));
        let direct_path = store.put("image", &token, body.clone()).unwrap();
        assert_eq!(store.put("image", &token, body.clone()).unwrap(), direct_path, "a repeat is deduplicated");
        assert_eq!(store.list().len(), 1);
        let (path, query) = direct_path.split_once('?').unwrap();
        let oh = query.split('&').find_map(|kv| kv.strip_prefix("oh=")).unwrap();
        assert_eq!(store.get(path, Some(oh), Some(&token)), Some(body.clone()));
        assert_eq!(store.get(path, Some("other"), Some(&token)), None);
        assert_eq!(store.get(path, Some(oh), Some("other")), None);
        assert_eq!(store.get("/v/t62.7118-24/unknown.enc", None, None), None);
        assert_eq!(store.bytes(&direct_path), Some(body));
    }

    #[test]
    fn oversized_blobs_are_refused() {
        let store = store();
        store.max_blob.store(4, Ordering::Relaxed);
        let body = Bytes::from_static(b"12345");
        let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&body));
        assert_eq!(store.put("image", &token, body), Err(UploadRefusal::TooLarge));
    }
}
