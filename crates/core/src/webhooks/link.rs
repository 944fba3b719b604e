//! Posting deliveries over a kept-alive connection. The address guard checks the host
//! each time a connection is opened, and the connection goes to exactly the checked
//! addresses; while the receiver keeps it open it carries the next deliveries, so a busy
//! endpoint costs one connection, not one per event. The same guard checks a URL when a
//! client gives it ([`check_address`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Response};
use tokio_rustls::TlsConnector;
use url::Url;

use crate::media::fetch::{self, AbortOnDrop};
use crate::media::{AllowList, MediaError, guard};

/// A connection idle for this long is not used again: receivers close idle connections
/// after a few seconds (Node.js after 5), and a request crossing that close would fail.
const REUSE_WITHIN: Duration = Duration::from_secs(2);

/// The most of an answer's body that is read (and dropped); a longer one closes the
/// connection.
const MAX_ANSWER: usize = 64 * 1024;

/// Why a delivery got no answer, in the words of a webhook (the guard and the
/// connection code are shared with media fetches).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The URL points where webhooks may not go, or is not http(s).
    #[error("{0}")]
    Refused(String),
    /// The host does not resolve, no connection, no answer in time.
    #[error("the receiver could not be reached: {0}")]
    Unreachable(String),
    /// The request could not be made from the URL or a header.
    #[error("{0}")]
    Invalid(String),
}

impl From<MediaError> for PostError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Refused(why) => Self::Refused(why),
            MediaError::Unreachable(why) => Self::Unreachable(why),
            MediaError::Invalid(why) => Self::Invalid(why),
            // Not made by a post: it reads no more than a small answer and stores nothing.
            other @ (MediaError::TooLarge { .. } | MediaError::Internal(_)) => Self::Invalid(other.to_string()),
        }
    }
}

/// Checks where `url` points as a delivery would, without connecting: the host must
/// resolve within `timeout`, to addresses the guard lets through.
pub async fn check_address(url: &str, allow: &AllowList, timeout: Duration) -> Result<(), PostError> {
    let url = Url::parse(url.trim()).map_err(|e| PostError::Invalid(format!("not a URL: {e}")))?;
    let host = url.host().ok_or_else(|| PostError::Refused("a URL without a host".to_owned()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    match tokio::time::timeout(timeout, guard::resolve(&host, port, allow)).await {
        Ok(checked) => checked.map(drop).map_err(PostError::from),
        Err(_) => Err(PostError::Unreachable(format!("cannot resolve {host} within {} s", timeout.as_secs_f32()))),
    }
}

/// An open connection and the origin (`scheme://host:port`) it goes to.
struct Link {
    origin: String,
    sender: SendRequest<Full<Bytes>>,
    used: Instant,
    _connection: AbortOnDrop,
}

/// Posts to URLs under the guard and a timeout, keeping the last connection open.
pub struct Poster {
    allow: Arc<AllowList>,
    tls: TlsConnector,
    timeout: Duration,
    link: Option<Link>,
}

impl Poster {
    pub fn new(allow: Arc<AllowList>, tls: TlsConnector, timeout: Duration) -> Self {
        Self { allow, tls, timeout, link: None }
    }

    /// POSTs `body` to `url` with `headers` added (no redirects followed) and answers
    /// the status code.
    pub async fn post(&mut self, url: &str, headers: &[(String, String)], body: Bytes) -> Result<u16, PostError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(url, headers, body)).await {
            Ok(answer) => answer.map_err(PostError::from),
            Err(_) => {
                // The connection may be in the middle of the request: never reused.
                self.link = None;
                Err(PostError::Unreachable(format!("no answer within {} s", timeout.as_secs_f32())))
            }
        }
    }

    async fn exchange(&mut self, url: &str, headers: &[(String, String)], body: Bytes) -> Result<u16, MediaError> {
        let url = Url::parse(url.trim()).map_err(|e| MediaError::Invalid(format!("url is not a valid URL: {e}")))?;
        let port = match url.scheme() {
            "https" | "http" => url.port_or_known_default().unwrap_or(443),
            other => return Err(MediaError::Refused(format!("{other}: URLs are not called; use http or https"))),
        };
        let host = url.host().ok_or_else(|| MediaError::Refused("a URL without a host".to_owned()))?;
        let origin = format!("{}://{host}:{port}", url.scheme());
        let mut request = fetch::request(Method::POST, &url, body)?;
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| MediaError::Invalid(format!("header {name}: {e}")))?;
            let value = HeaderValue::from_str(value).map_err(|e| MediaError::Invalid(format!("header {name}: {e}")))?;
            request.headers_mut().insert(name, value);
        }

        let kept = self
            .link
            .take()
            .filter(|link| link.origin == origin && link.used.elapsed() < REUSE_WITHIN && !link.sender.is_closed());
        if let Some(mut link) = kept
            && link.sender.ready().await.is_ok()
        {
            match link.sender.try_send_request(request).await {
                Ok(response) => return Ok(self.finish(link, response).await),
                // Not sent (the receiver closed the connection first): a new one takes it.
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(MediaError::Unreachable(format!("the request failed: {}", e.error()))),
                },
            }
        }

        let addrs = guard::resolve(&host, port, &self.allow).await?;
        let (mut sender, connection) = fetch::open(&self.tls, &url, &addrs).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| MediaError::Unreachable(format!("the request failed: {e}")))?;
        let link = Link { origin, sender, used: Instant::now(), _connection: connection };
        Ok(self.finish(link, response).await)
    }

    /// Reads the answer's body so the connection can carry the next request, and keeps
    /// it unless the body broke off or was too long.
    async fn finish(&mut self, mut link: Link, response: Response<Incoming>) -> u16 {
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return status };
            if let Ok(data) = frame.into_data() {
                read += data.len();
                if read > MAX_ANSWER {
                    return status;
                }
            }
        }
        link.used = Instant::now();
        self.link = Some(link);
        status
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A receiver answering every request with 204 (plus `extra` headers), closing the
    /// connection after each answer when `close` is set. Counts connections.
    async fn receiver(extra: &'static str, close: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: the head, then the body its Content-Length names.
                        let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if buffer.len() < head_end + 4 + length {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        }
                        buffer.drain(..head_end + 4 + length);
                        let answer = format!("HTTP/1.1 204 No Content\r\n{extra}\r\n");
                        if socket.write_all(answer.as_bytes()).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (url, connections)
    }

    fn poster() -> Poster {
        let allow = AllowList::parse(Vec::<String>::new(), ["127.0.0.0/8".to_owned()]).unwrap();
        Poster::new(Arc::new(allow), fetch::tls_connector().unwrap(), Duration::from_secs(5))
    }

    #[tokio::test]
    async fn deliveries_to_one_receiver_share_one_connection() {
        let (url, connections) = receiver("", false).await;
        let mut poster = poster();
        for i in 0..20 {
            assert_eq!(poster.post(&url, &[], Bytes::from(format!("{{\"n\":{i}}}"))).await.unwrap(), 204);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_receiver_that_closes_connections_still_gets_every_delivery() {
        for (extra, close) in [("connection: close\r\n", true), ("", true)] {
            let (url, connections) = receiver(extra, close).await;
            let mut poster = poster();
            for _ in 0..5 {
                assert_eq!(poster.post(&url, &[], Bytes::from_static(b"{}")).await.unwrap(), 204);
                // The receiver's close reaches the client before the next delivery.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(connections.load(Ordering::SeqCst), 5, "{extra:?}");
        }
    }

    #[tokio::test]
    async fn a_connection_is_not_reused_for_another_receiver_nor_a_refused_address() {
        let (first, first_connections) = receiver("", false).await;
        let (second, second_connections) = receiver("", false).await;
        let mut poster = poster();
        for url in [&first, &second, &first] {
            assert_eq!(poster.post(url, &[], Bytes::from_static(b"{}")).await.unwrap(), 204);
        }
        assert_eq!(first_connections.load(Ordering::SeqCst), 2);
        assert_eq!(second_connections.load(Ordering::SeqCst), 1);

        // The guard is asked whenever a connection is opened: without the allowance the
        // same receiver is refused.
        let mut guarded =
            Poster::new(Arc::new(AllowList::default()), fetch::tls_connector().unwrap(), Duration::from_secs(5));
        let refused = guarded.post(&first, &[], Bytes::from_static(b"{}")).await.unwrap_err();
        assert!(matches!(refused, PostError::Refused(_)), "{refused:?}");
        assert_eq!(first_connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_told_in_a_webhooks_words() {
        let mut poster = poster();

        let failed = poster.post("http://nosuch.invalid/hook", &[], Bytes::from_static(b"{}")).await.unwrap_err();

        let told = failed.to_string();
        assert!(told.starts_with("the receiver could not be reached: cannot resolve nosuch.invalid"), "{told}");
        assert!(!told.contains("media"), "{told}");
    }

    #[tokio::test]
    async fn an_address_is_checked_as_a_delivery_would_check_it() {
        let allowed = AllowList::parse(Vec::<String>::new(), ["127.0.0.0/8".to_owned()]).unwrap();
        let timeout = Duration::from_secs(5);
        assert!(check_address("http://127.0.0.1:9/hook", &allowed, timeout).await.is_ok(), "allow-listed");

        let closed = AllowList::default();
        for url in ["http://127.0.0.1:9/hook", "http://[::1]/hook", "http://10.0.0.7/hook", "http://localhost:8080/"] {
            let refused = check_address(url, &closed, timeout).await.unwrap_err();
            assert!(matches!(&refused, PostError::Refused(why) if why.contains("address")), "{url}: {refused:?}");
        }
        let unknown = check_address("https://nosuch.invalid/hook", &closed, timeout).await.unwrap_err();
        assert!(matches!(&unknown, PostError::Unreachable(why) if why.contains("cannot resolve")), "{unknown:?}");
    }
}
