//! Media files in S3-compatible object storage (AWS S3, MinIO, Cloudflare R2, …), one
//! object per media id under a prefix. Requests are signed with rusty-s3 (SigV4
//! presigned URLs) and sent over the same hyper and rustls stack as media fetches,
//! without the private-address guard: the endpoint is the operator's own, not a
//! client's.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};
use tokio_rustls::TlsConnector;
use url::Url;

use super::fetch::{exchange, read_body, request, tls_connector};

/// How long a signed request stays valid; requests go out at once.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// The longest one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Where media goes when it is kept in object storage.
#[derive(Clone)]
pub struct S3Config {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: Url,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `https://endpoint/bucket/key` (MinIO and most S3-compatible servers) rather
    /// than `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// Put before every media id, e.g. `wagate/`.
    pub prefix: String,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .field("path_style", &self.path_style)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The bucket's objects, as the media store uses them.
#[derive(Clone)]
pub struct S3Blobs {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    tls: TlsConnector,
    max_bytes: u64,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs").field("bucket", &self.bucket.name()).field("prefix", &self.prefix).finish()
    }
}

impl S3Blobs {
    /// `max_bytes`: the largest object read back (the media store's own limit).
    pub fn new(config: &S3Config, max_bytes: u64) -> anyhow::Result<Self> {
        let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(config.endpoint.clone(), style, config.bucket.clone(), config.region.clone())
            .context("media.s3: endpoint and bucket do not make a bucket URL")?;
        let credentials = Credentials::new(config.access_key.clone(), config.secret_key.clone());
        Ok(Self { bucket, credentials, prefix: config.prefix.clone(), tls: tls_connector()?, max_bytes })
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Stores the object of `id`; it is durable once S3 answers.
    pub async fn write(&self, id: &str, bytes: Bytes) -> anyhow::Result<()> {
        let key = self.key(id);
        let url = self.bucket.put_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
        let (status, body) = self.send(Method::PUT, &url, bytes).await.with_context(|| format!("store media {id}"))?;
        if !status.is_success() {
            bail!("store media {id}: S3 answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }

    /// The bytes of `id`, or `None` when there is no such object.
    pub async fn read(&self, id: &str) -> anyhow::Result<Option<Bytes>> {
        let key = self.key(id);
        let url = self.bucket.get_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
        let (status, body) =
            self.send(Method::GET, &url, Bytes::new()).await.with_context(|| format!("read media {id}"))?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(body)),
            s => bail!("read media {id}: S3 answered {s}: {}", String::from_utf8_lossy(&body)),
        }
    }

    /// Removes the object of `id` if it is there.
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let key = self.key(id);
        let url = self.bucket.delete_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
        let (status, body) =
            self.send(Method::DELETE, &url, Bytes::new()).await.with_context(|| format!("remove media {id}"))?;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            bail!("remove media {id}: S3 answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }

    async fn send(&self, method: Method, url: &Url, body: Bytes) -> anyhow::Result<(StatusCode, Bytes)> {
        let work = async {
            let host = url.host_str().context("the endpoint has no host")?;
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<_> = tokio::net::lookup_host((host, port)).await.context("resolve the endpoint")?.collect();
            let request = request(method, url, body)?;
            let exchange = exchange(&self.tls, url, &addrs, request).await?;
            let status = exchange.response.status();
            let body = read_body(exchange, self.max_bytes).await?;
            anyhow::Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work).await.context("S3 did not answer in time")?
    }
}
