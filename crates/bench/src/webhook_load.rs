//! `webhook-load`: how many webhook deliveries per second wagate makes to a local
//! receiver, and how long an event takes from the engine to the receiver at a fixed
//! rate of events.
//!
//! The gateway runs in this process on its own runtime (as `wagate serve` wires it, on
//! a fresh SQLite database) with the FakeEngine, whose contact writes to one linked
//! session: each message is committed through the session's inbox exactly as the real
//! engine's are, and gives a `message.received` event. The receiver is a local HTTP
//! server on the benchmark's runtime that answers 204 at once.
//!
//! 1. **Backlog**: N messages are received with no webhook; then a webhook is created
//!    and replayed from the first event. Measured: deliveries per second until the
//!    receiver has all N.
//! 2. **Fixed rate**: messages arrive from the engine at R per second for S seconds
//!    (open loop: message i is due at `start + i/R`). Measured: from the due time to
//!    the receiver's arrival, per event.
//!
//! Both phases check that every event arrived exactly once and in order; the exit
//! status is non-zero otherwise. See docs/BENCHMARKS.md.

#[allow(dead_code)] // shared with wagate-bench, which uses all of it
mod server;
#[allow(dead_code)] // shared with the other benchmarks, which use all of it
mod stats;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use wagate_engine::{Content, Context as MessageContext, FakeEngine, IncomingMessage};
use wagate_types::{ChatId, PhoneNumber, WaMessageId};

use crate::server::Server;
use crate::stats::{Percentiles, ms, thousands};

const API_KEY: &str = "wag_bench_key_0123456789";
const SESSION: &str = "bench";
const CONTACT: &str = "+4915123456789";
/// What each message says before its number; the receiver finds the number after it.
const MARK: &str = "wagate-bench ";
/// The targets.
const TARGET_RATE: f64 = 5_000.0;
const TARGET_P99_US: u32 = 50_000;

/// Webhook deliveries per second, and event latency at a fixed rate.
#[derive(Parser)]
#[command(name = "webhook-load")]
struct Cli {
    /// Events waiting before the webhook is replayed over them.
    #[arg(long, default_value_t = 50_000)]
    backlog: u32,
    /// Events per second of the fixed-rate phase.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Length of the fixed-rate phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds between the phases, for the database to copy the backlog's log back
    /// (SQLite's checkpoint).
    #[arg(long, default_value_t = 5)]
    settle: u64,
}

/// A delivery as the receiver saw it.
#[derive(Clone, Copy)]
struct Arrival {
    event: u64,
    index: u32,
    at: Instant,
}

#[derive(Default)]
struct Receiver {
    arrivals: Mutex<Vec<Arrival>>,
}

impl Receiver {
    fn count(&self) -> usize {
        self.arrivals.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let event = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("evt_"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&body);
    let index = text
        .find(MARK)
        .map(|at| text[at + MARK.len()..].chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(u32::MAX);
    receiver.arrivals.lock().unwrap_or_else(|p| p.into_inner()).push(Arrival { event, index, at });
    StatusCode::NO_CONTENT
}

struct Outcome {
    backlog_rate: f64,
    backlog_elapsed: Duration,
    ingest_rate: f64,
    sent: u32,
    latency: Percentiles,
    /// From the due time until the inbox committed the message (the engine's call
    /// returned).
    commit: Percentiles,
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if cli.backlog == 0 || cli.seconds == 0 || !(cli.rate > 0.0 && cli.rate.is_finite()) {
        bail!("--backlog, --rate and --seconds must be positive");
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();

    let engine = FakeEngine::new().auto_linked();
    let server = Server::start(API_KEY, Arc::new(engine.clone()), |config| {
        config.webhooks.allow_networks = vec!["127.0.0.0/8".to_owned()];
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .context("build the client runtime")?;
    let outcome = runtime.block_on(run(&cli, server.addr, &engine));
    eprintln!("stopping the server");
    server.stop()?;
    match outcome {
        Ok(outcome) => Ok(report(&cli, &outcome)),
        Err(e) => {
            eprintln!("webhook-load failed: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn run(cli: &Cli, addr: std::net::SocketAddr, engine: &FakeEngine) -> anyhow::Result<Outcome> {
    let api = Api { http: reqwest::Client::new(), base: format!("http://{addr}/api/v1") };
    let receiver = Arc::new(Receiver::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.context("listen for webhooks")?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    api.call(reqwest::Method::POST, "/sessions", Some(json!({ "name": SESSION })), StatusCode::CREATED).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.call(reqwest::Method::GET, &format!("/sessions/{SESSION}"), None, StatusCode::OK).await?["status"]
        != "connected"
    {
        ensure!(Instant::now() < deadline, "the session did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    eprintln!("backlog: {} messages received with no webhook", thousands(cli.backlog.into()));
    let started = Instant::now();
    for first in (0..cli.backlog).step_by(500) {
        let batch: Vec<_> = (first..cli.backlog.min(first + 500)).map(message).collect();
        engine.incoming(SESSION, &batch).await.context("the gateway did not take a message")?;
    }
    let ingest_rate = f64::from(cli.backlog) / started.elapsed().as_secs_f64();

    let hook = json!({ "url": hook_url, "events": ["message.received"] });
    let hook = api.call(reqwest::Method::POST, "/webhooks", Some(hook), StatusCode::CREATED).await?;
    let hook_id = hook["id"].as_str().context("a webhook without an id")?.to_owned();
    eprintln!("backlog: replaying the webhook from the first event");
    let started = Instant::now();
    let replay = json!({ "from_event_id": 1 });
    api.call(reqwest::Method::POST, &format!("/webhooks/{hook_id}/replay"), Some(replay), StatusCode::OK).await?;
    wait_for(&receiver, cli.backlog as usize, Duration::from_secs(600)).await?;
    let backlog_elapsed = started.elapsed();
    check(&receiver.take(), 0..cli.backlog)?;

    tokio::time::sleep(Duration::from_secs(cli.settle)).await;
    let sent = (cli.rate * cli.seconds as f64).round() as u32;
    eprintln!("fixed rate: {} messages at {}/s", thousands(sent.into()), cli.rate);
    let first = cli.backlog;
    let start = Instant::now() + Duration::from_millis(100);
    let mut due = Vec::with_capacity(sent as usize);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sent {
        let at = start + Duration::from_secs_f64(f64::from(i) / cli.rate);
        tokio::time::sleep_until(at.into()).await;
        due.push(at);
        let engine = engine.clone();
        tasks
            .spawn(async move { engine.incoming(SESSION, &[message(first + i)]).await.map(|()| (at, Instant::now())) });
    }
    let mut commit_us = Vec::with_capacity(sent as usize);
    while let Some(done) = tasks.join_next().await {
        let (at, committed) = done?.context("the gateway did not take a message")?;
        commit_us.push(u32::try_from(committed.saturating_duration_since(at).as_micros()).unwrap_or(u32::MAX));
    }
    wait_for(&receiver, sent as usize, Duration::from_secs(60)).await?;
    let arrivals = receiver.take();
    check(&arrivals, first..first + sent)?;
    let mut latency_us: Vec<u32> = arrivals
        .iter()
        .map(|a| {
            let waited = a.at.saturating_duration_since(due[(a.index - first) as usize]);
            u32::try_from(waited.as_micros()).unwrap_or(u32::MAX)
        })
        .collect();
    Ok(Outcome {
        backlog_rate: f64::from(cli.backlog) / backlog_elapsed.as_secs_f64(),
        backlog_elapsed,
        ingest_rate,
        sent,
        latency: Percentiles::of(&mut latency_us),
        commit: Percentiles::of(&mut commit_us),
    })
}

/// Message `index` from the contact.
fn message(index: u32) -> IncomingMessage {
    let from = ChatId::from_phone(&PhoneNumber::parse(CONTACT, None).expect("a valid number"));
    IncomingMessage {
        wa_id: WaMessageId::generate(),
        sender: from.clone(),
        chat: from,
        push_name: Some("Bench Contact".to_owned()),
        at: OffsetDateTime::now_utc(),
        content: Content::Text { body: format!("{MARK}{index}") },
        context: MessageContext::default(),
    }
}

async fn wait_for(receiver: &Receiver, count: usize, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while receiver.count() < count {
        ensure!(Instant::now() < deadline, "only {} of {count} deliveries arrived", receiver.count());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Every message of `expected` arrived once, in the order of the event log (messages
/// taken at the same moment may be committed in either order).
fn check(arrivals: &[Arrival], expected: std::ops::Range<u32>) -> anyhow::Result<()> {
    for pair in arrivals.windows(2) {
        ensure!(pair[1].event > pair[0].event, "event {} arrived after event {}", pair[1].event, pair[0].event);
    }
    let mut indexes: Vec<u32> = arrivals.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    ensure!(
        indexes.iter().copied().eq(expected.clone()),
        "the deliveries are not the messages {expected:?}, once each"
    );
    Ok(())
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).header("X-API-Key", API_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("call {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        ensure!(status == want.as_u16(), "{path} answered {status}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Prints the summary; the exit status says whether the targets were met.
fn report(cli: &Cli, o: &Outcome) -> ExitCode {
    let p = &o.latency;
    println!("| Measure | Result | Target |");
    println!("|---|---|---|");
    println!(
        "| Deliveries/s, backlog of {} events | {} ({:.1} s) | ≥ {} |",
        thousands(cli.backlog.into()),
        thousands(o.backlog_rate.round() as u64),
        o.backlog_elapsed.as_secs_f64(),
        thousands(TARGET_RATE as u64)
    );
    println!(
        "| Event latency at {}/s ({} events): p50 / p90 / p99 / p99.9 / max | {} / {} / {} / {} / {} | p99 ≤ {} |",
        cli.rate,
        thousands(o.sent.into()),
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p999),
        ms(p.max),
        ms(TARGET_P99_US)
    );
    let c = &o.commit;
    println!(
        "| Of which engine → committed, p50 / p90 / p99 / p99.9 / max | {} / {} / {} / {} / {} | |",
        ms(c.p50),
        ms(c.p90),
        ms(c.p99),
        ms(c.p999),
        ms(c.max)
    );
    println!("| Received messages committed/s (batches of 500, no webhook) | {} | |", thousands(o.ingest_rate as u64));
    let met = o.backlog_rate >= TARGET_RATE && p.p99 <= TARGET_P99_US;
    println!("\nEvery event arrived exactly once and in order; targets {}.", if met { "met" } else { "NOT met" });
    if met { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
