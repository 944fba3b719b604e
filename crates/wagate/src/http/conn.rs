//! A client connection as hyper writes to it: an answer the client does not take ends
//! the connection after a while, and hyper's own refusals become problem+json.
//!
//! hyper answers a request head it cannot read (a control character in a header value,
//! a malformed request line, a URL or head too long) by itself, before any service
//! runs, with an empty body, and offers no hook to change that answer. It is always the
//! last thing written on the connection, and it is the whole of that write: exactly a
//! response head with `content-length: 0` and no `content-type`, which no answer of
//! wagate's own ever is (every refusal of wagate's carries its problem document). So
//! this is where it is recognised and replaced by the same answer with a problem
//! document.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use wagate_api::Problem;

pub(super) struct Guarded<S> {
    inner: S,
    patience: Duration,
    /// Armed while a write waits for the client to take bytes; disarmed by progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// A replacement answer still to write, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S> Guarded<S> {
    pub(super) fn new(inner: S, patience: Duration) -> Self {
        Self { inner, patience, stalled: None, replacement: None }
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Turns a pending write into a timeout once it waited `patience` in all.
    fn watch<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let patience = self.patience;
                let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(patience)));
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client took no part of the answer for {patience:?}"),
                )))
            }
        }
    }

    /// Writes what is left of a replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let polled = Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]);
            let n = ready!(self.watch(cx, polled))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if let Some((_, written)) = &mut self.replacement {
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Replaces hyper's own refusal if `bytes` is one, answering as if it was written.
    fn replace(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let replacement = problem_for(bytes)?;
        self.replacement = Some((replacement, 0));
        Some(match self.poll_replacement(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // Taken; the rest goes out on the flush hyper does next.
            _ => Poll::Ready(Ok(bytes.len())),
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if let Some(replaced) = this.replace(cx, buf) {
            return replaced;
        }
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty()).map(|b| &b[..]).unwrap_or_default();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if first.starts_with(STATUS_LINE_START) && total <= MAX_REFUSAL_HEAD {
            let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(replaced) = this.replace(cx, &joined) {
                return replaced;
            }
        }
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}

const STATUS_LINE_START: &[u8] = b"HTTP/1.1 ";

/// hyper's refusal heads are short: a status line, `connection: close`,
/// `content-length` and `date`.
const MAX_REFUSAL_HEAD: usize = 256;

/// The problem+json answer replacing `written`, if it is one of hyper's own refusals:
/// exactly one response head, bodiless and untyped, with one of the statuses hyper
/// gives a head it cannot read.
fn problem_for(written: &[u8]) -> Option<Vec<u8>> {
    if written.len() > MAX_REFUSAL_HEAD || !written.starts_with(STATUS_LINE_START) || !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let mut lines = head[..head.len() - 4].split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let (mut bodiless, mut date) = (false, None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => bodiless = value.trim() == "0",
            "connection" if value.trim().eq_ignore_ascii_case("close") => {}
            "date" => date = Some(line),
            _ => return None,
        }
    }
    if !bodiless {
        return None;
    }
    let (code, detail) = match status {
        "400" => (
            "malformed_request",
            "the request could not be read as HTTP: a header name or value holds a character HTTP does not allow, or the request line is malformed",
        ),
        "414" => ("uri_too_long", "the request's URL is longer than the server reads (65,534 bytes)"),
        "431" => ("headers_too_large", "the request's headers are larger than the server reads"),
        _ => return None,
    };
    let status = axum::http::StatusCode::from_bytes(status.as_bytes()).ok()?;
    let title = status.canonical_reason().unwrap_or("Error");
    let problem = Problem {
        kind: format!("urn:wagate:problem:{code}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).ok()?;
    let mut answer = format!(
        "HTTP/1.1 {} {title}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(date);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    #[tokio::test]
    async fn an_answer_the_client_does_not_take_ends_in_a_timeout() {
        let (ours, _client_never_reads) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(ours, Duration::from_millis(50));
        let written = tokio::time::timeout(Duration::from_secs(10), guarded.write_all(&[b'x'; 1024])).await;
        assert_eq!(written.expect("gives up").unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_replaced_refusal_reaches_the_client_whole() {
        let (ours, mut client) = tokio::io::duplex(16);
        let mut guarded = Guarded::new(ours, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got).await.unwrap();
            got
        });
        let hypers = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(guarded.write(hypers).await.unwrap(), hypers.len(), "taken as written");
        guarded.shutdown().await.unwrap();
        drop(guarded);
        let got = String::from_utf8(reader.await.unwrap()).unwrap();
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json"), "{got}");
        assert!(got.ends_with('}'), "{got}");
    }

    fn parts(answer: &[u8]) -> (String, serde_json::Value) {
        let text = std::str::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn hypers_own_refusals_become_problems_with_the_same_status_and_date() {
        let written = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 01 Jun 2026 10:00:00 GMT\r\n\r\n";
        let (head, problem) = parts(&problem_for(written).expect("replaced"));
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        assert!(head.contains("date: Mon, 01 Jun 2026 10:00:00 GMT"), "{head}");
        assert_eq!(problem["status"], 414);
        assert_eq!(problem["code"], "uri_too_long");
        let declared: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(declared, serde_json::to_vec(&problem).unwrap().len());

        let written = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let (_, problem) = parts(&problem_for(written).expect("replaced"));
        assert_eq!(problem["code"], "malformed_request");
    }

    #[test]
    fn answers_of_wagates_own_pass_unchanged() {
        // A typed answer, one with a body, one of another status, or a head with more
        // after it is never hyper's refusal.
        for written in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
        ] {
            assert!(problem_for(written).is_none(), "{}", String::from_utf8_lossy(written));
        }
    }
}
