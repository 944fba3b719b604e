//! The load generator: HTTP/1.1 keep-alive connections (one request in flight each)
//! driven in a closed loop (as fast as answers come) or an open loop (a fixed schedule).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive connection to the gateway.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    key: Arc<str>,
}

impl Conn {
    pub async fn open(addr: SocketAddr, key: Arc<str>) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, key })
    }

    /// POSTs a JSON body and reads the whole answer.
    pub async fn post(&mut self, path: &str, body: Bytes) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let request = Request::post(path)
            .header(header::HOST, "127.0.0.1")
            .header("x-api-key", &*self.key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// What one phase saw.
#[derive(Default)]
pub struct Outcome {
    /// 202 answers.
    pub accepted: u64,
    /// Other answers and transport failures.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Per 202: microseconds from the intended send time to the full answer (closed
    /// loop: the actual send time; open loop: the scheduled time).
    pub latency_us: Vec<u32>,
    /// Per 202 in the open loop: microseconds from the actual send to the full answer.
    pub service_us: Vec<u32>,
    /// From the phase's start to its last answer.
    pub elapsed: Duration,
}

impl Outcome {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    fn merge(&mut self, other: Outcome) {
        self.accepted += other.accepted;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency_us.extend(other.latency_us);
        self.service_us.extend(other.service_us);
    }

    /// 202s per second over the phase.
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The request every connection sends.
pub fn message_body() -> Bytes {
    let body = serde_json::json!({"session": "bench", "to": "+4915123456789", "text": "wagate benchmark message"});
    Bytes::from(body.to_string())
}

const MESSAGES: &str = "/api/v1/messages";

/// Sends one message; false when the connection should be given up.
async fn send_one(conn: &mut Conn, body: &Bytes, out: &mut Outcome, scheduled: Option<Instant>) -> bool {
    let sent = Instant::now();
    match conn.post(MESSAGES, body.clone()).await {
        Ok((StatusCode::ACCEPTED, _)) => {
            let done = Instant::now();
            out.accepted += 1;
            out.latency_us.push(micros(done - scheduled.unwrap_or(sent)));
            if scheduled.is_some() {
                out.service_us.push(micros(done - sent));
            }
            true
        }
        Ok((status, answer)) => {
            out.error(format!("HTTP {status}: {}", String::from_utf8_lossy(&answer)));
            true
        }
        Err(e) => {
            out.error(format!("transport: {e:#}"));
            false
        }
    }
}

/// Every connection sends, waits for the answer, sends again, until `duration` is up.
pub async fn closed_loop(conns: Vec<Conn>, duration: Duration) -> (Vec<Conn>, Outcome) {
    let body = message_body();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let body = body.clone();
            tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    if !send_one(&mut conn, &body, &mut out, None).await {
                        break;
                    }
                }
                (conn, out)
            })
        })
        .collect();
    gather(tasks, start).await
}

/// Request `i` is due at `start + i / rate`. A free connection takes the next due
/// request, waits for its time and sends it; latency counts from the due time, so a
/// slow answer that delays later sends shows in their latency too (no coordinated
/// omission). tokio timers have millisecond resolution: a send may leave up to ~1 ms
/// after its due time, and that lag is part of the reported latency.
pub async fn open_loop(conns: Vec<Conn>, rate: f64, duration: Duration) -> (Vec<Conn>, Outcome) {
    let body = message_body();
    let start = Instant::now() + Duration::from_millis(20);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (body, next) = (body.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let offset = Duration::from_secs_f64(i as f64 / rate);
                    if offset >= duration {
                        break;
                    }
                    let due = start + offset;
                    tokio::time::sleep_until(due.into()).await;
                    if !send_one(&mut conn, &body, &mut out, Some(due)).await {
                        break;
                    }
                }
                (conn, out)
            })
        })
        .collect();
    gather(tasks, start).await
}

async fn gather(tasks: Vec<tokio::task::JoinHandle<(Conn, Outcome)>>, start: Instant) -> (Vec<Conn>, Outcome) {
    let mut conns = Vec::with_capacity(tasks.len());
    let mut total = Outcome::default();
    for task in tasks {
        match task.await {
            Ok((conn, out)) => {
                conns.push(conn);
                total.merge(out);
            }
            Err(e) => total.error(format!("load task failed: {e}")),
        }
    }
    total.elapsed = start.elapsed();
    (conns, total)
}
