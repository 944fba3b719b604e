//! Fetching a media URL a client gave, with the address guard on every hop.
//!
//! This is written on hyper's connection API rather than reqwest: each hop is resolved
//! and checked by [`guard::resolve`], and the TCP connection goes to exactly those
//! addresses, so nothing can resolve the name a second time. reqwest could do that
//! with a custom resolver, but its TLS features either build aws-lc (a C library) or
//! make every other reqwest client in the process panic until a global crypto provider
//! is installed; here rustls gets its ring provider directly, as whatsapp-rust's
//! transport does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, body::Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

use super::MediaError;
use super::guard::{self, AllowList};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Longest wait for one TCP connection, within the overall timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A downloaded body and what the server said about it.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    /// The `Content-Type` without parameters, if the server sent one.
    pub content_type: Option<String>,
    /// The last path segment of the final URL, decoded.
    pub filename: Option<String>,
}

/// Fetches URLs under the guard, a size limit and a timeout.
#[derive(Clone)]
pub struct Fetcher {
    allow: Arc<AllowList>,
    tls: TlsConnector,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(allow: AllowList, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self { allow: Arc::new(allow), tls: tls_connector()?, timeout })
    }

    /// Downloads `url`, following up to [`MAX_REDIRECTS`] redirects, each checked like
    /// the first URL. Refuses with [`MediaError::TooLarge`] as soon as the announced
    /// length or the bytes read so far pass `max_bytes`, so a huge body is never held
    /// whole.
    #[tracing::instrument(skip_all, fields(host))]
    pub async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, MediaError> {
        let url = Url::parse(url.trim()).map_err(|e| MediaError::Invalid(format!("url is not a valid URL: {e}")))?;
        tracing::Span::current().record("host", url.host_str().unwrap_or(""));
        tokio::time::timeout(self.timeout, self.follow(url, max_bytes)).await.map_err(|_| {
            MediaError::Unreachable(format!("the download did not finish within {} s", self.timeout.as_secs_f32()))
        })?
    }

    async fn follow(&self, mut url: Url, max_bytes: u64) -> Result<Fetched, MediaError> {
        let mut redirects = 0;
        loop {
            let exchange = self.get(&url).await?;
            let response = &exchange.response;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(MediaError::Unreachable(format!("more than {MAX_REDIRECTS} redirects")));
                }
                let location =
                    response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).ok_or_else(|| {
                        MediaError::Unreachable(format!("redirect ({status}) without a usable Location"))
                    })?;
                url = url
                    .join(location)
                    .map_err(|e| MediaError::Unreachable(format!("redirect to an invalid URL {location:?}: {e}")))?;
                continue;
            }
            if !status.is_success() {
                return Err(MediaError::Unreachable(format!("the server answered {status}")));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty());
            let bytes = read_body(exchange, max_bytes).await?;
            return Ok(Fetched { bytes, content_type, filename: filename_of(&url) });
        }
    }

    /// One GET to the checked addresses of `url`'s host.
    async fn get(&self, url: &Url) -> Result<Exchange, MediaError> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(MediaError::Refused(format!("{other}: URLs are not fetched; use http or https")));
            }
        };
        let host = url.host().ok_or_else(|| MediaError::Refused("a URL without a host".to_owned()))?;
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        let addrs = guard::resolve(&host, port, &self.allow).await?;
        let request = request(hyper::Method::GET, url, Bytes::new())?;
        exchange(&self.tls, url, &addrs, request).await
    }
}

/// TLS for outgoing requests: rustls with its ring provider and the web's root
/// certificates, HTTP/1.1 only.
pub(crate) fn tls_connector() -> anyhow::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS versions for outgoing requests: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A request for `url` with `body`, addressed as HTTP/1.1 wants it.
pub(crate) fn request(method: hyper::Method, url: &Url, body: Bytes) -> Result<Request<Full<Bytes>>, MediaError> {
    let host = url.host_str().ok_or_else(|| MediaError::Refused("a URL without a host".to_owned()))?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, &authority)
        .header(header::USER_AGENT, HeaderValue::from_static(concat!("wagate/", env!("CARGO_PKG_VERSION"))))
        .header(header::ACCEPT, HeaderValue::from_static("*/*"))
        .header(header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| MediaError::Invalid(format!("url cannot be requested: {e}")))
}

/// Sends `request` to `url`'s host at one of `addrs`, over TLS when `url` is https.
pub(super) async fn exchange(
    tls: &TlsConnector,
    url: &Url,
    addrs: &[SocketAddr],
    request: Request<Full<Bytes>>,
) -> Result<Exchange, MediaError> {
    let (mut sender, connection) = open(tls, url, addrs).await?;
    let response =
        sender.send_request(request).await.map_err(|e| MediaError::Unreachable(format!("the request failed: {e}")))?;
    Ok(Exchange { response, _connection: connection })
}

/// An HTTP/1.1 connection to `url`'s host at one of `addrs`, over TLS when `url` is
/// https: the handle that sends requests on it and the task that drives it.
pub(crate) async fn open(
    tls: &TlsConnector,
    url: &Url,
    addrs: &[SocketAddr],
) -> Result<(SendRequest<Full<Bytes>>, AbortOnDrop), MediaError> {
    let tcp = connect(addrs).await?;
    if url.scheme() != "https" {
        return handshake(tcp).await;
    }
    let name = match url.host().ok_or_else(|| MediaError::Refused("a URL without a host".to_owned()))? {
        url::Host::Domain(name) => rustls::pki_types::ServerName::try_from(name.to_owned())
            .map_err(|e| MediaError::Invalid(format!("url host is not a TLS name: {e}")))?,
        url::Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
        url::Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let tls =
        tls.connect(name, tcp).await.map_err(|e| MediaError::Unreachable(format!("TLS with {host} failed: {e}")))?;
    handshake(tls).await
}

async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, MediaError> {
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(format!("cannot connect to {addr}: {e}")),
            Err(_) => last = Some(format!("no connection to {addr} within {} s", CONNECT_TIMEOUT.as_secs())),
        }
    }
    Err(MediaError::Unreachable(last.unwrap_or_else(|| "no address to connect to".to_owned())))
}

/// Starts HTTP/1.1 on `stream`; the connection task ends when the handle is dropped
/// (or is aborted when the caller gives up, such as on a timeout).
async fn handshake<S>(stream: S) -> Result<(SendRequest<Full<Bytes>>, AbortOnDrop), MediaError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| MediaError::Unreachable(format!("HTTP handshake failed: {e}")))?;
    Ok((sender, AbortOnDrop(tokio::spawn(connection))))
}

/// Reads the body, refusing it as soon as it is known to pass `max_bytes`.
pub(super) async fn read_body(exchange: Exchange, max_bytes: u64) -> Result<Bytes, MediaError> {
    let Exchange { response, _connection } = exchange;
    let announced = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_bytes) {
        return Err(MediaError::TooLarge { limit: max_bytes });
    }
    let capacity = announced.unwrap_or(64 * 1024).min(max_bytes);
    let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(usize::MAX));
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| MediaError::Unreachable(format!("the download broke off: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if (buffer.len() + data.len()) as u64 > max_bytes {
                return Err(MediaError::TooLarge { limit: max_bytes });
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

fn filename_of(url: &Url) -> Option<String> {
    let last = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    super::clean_filename(&decoded)
}

/// A response and the task driving its connection, which must live while the body is
/// read.
pub(super) struct Exchange {
    pub(super) response: Response<Incoming>,
    _connection: AbortOnDrop,
}

pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<hyper::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
