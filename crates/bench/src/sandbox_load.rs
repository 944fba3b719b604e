//! `sandbox-load`: one sandbox process holding many connected whatsapp-rust clients.
//!
//! Starts `wagate sandbox` as its own process, links N real whatsapp-rust clients to N
//! sandbox accounts by QR code (through the admin API, as the tests do), keeps them
//! connected and idle, and reads the sandbox's memory from /proc. Then it stops every
//! client and logs them all in again with their stored credentials. Prints a Markdown
//! summary; progress goes to stderr. See docs/BENCHMARKS.md.

#[allow(dead_code)] // shared with the other benchmarks, which use all of it
mod process;
#[allow(dead_code)] // shared with wagate-bench, which uses all of it
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use wacore::store::InMemoryBackend;
use wagate_sandbox::SandboxHttpClient;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventKind};

use crate::process::{Memory, memory, mib, start_sandbox};
use crate::stats::{Percentiles, ms};

/// Many connected clients in one sandbox process: memory and connect times.
#[derive(Parser)]
#[command(name = "sandbox-load")]
struct Cli {
    /// Clients to link and keep connected, one sandbox account each.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Clients pairing or logging in at the same time.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// The `wagate` binary built with `--features sandbox`; by default the one beside
    /// this binary.
    #[arg(long)]
    wagate: Option<PathBuf>,
    /// Seconds the connected clients stay idle before the sandbox's memory is read.
    #[arg(long, default_value_t = 30)]
    settle: u64,
    /// Seconds one client may take to pair or log in before the run fails.
    #[arg(long, default_value_t = 180)]
    client_timeout: u64,
}

/// What the benchmark needs to hear from a client.
enum Signal {
    Qr(String),
    Connected,
}

/// One benchmark client: a sandbox account and the store its client keeps credentials in.
struct Client {
    phone: String,
    backend: Arc<InMemoryBackend>,
    bot: Option<BotHandle>,
}

struct Ctx {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`; the admin API is under `/sandbox`.
    base: String,
    client_timeout: Duration,
    /// Disconnections the clients reported, to check that idle clients stay connected.
    disconnects: Arc<AtomicUsize>,
}

/// How long a phase took for all clients, and for each one.
struct Phase {
    wall: Duration,
    per_client: Percentiles,
}

struct Results {
    baseline: Memory,
    connected: Memory,
    online_after_settle: usize,
    disconnected: Memory,
    reconnected: Memory,
    online_after_reconnect: usize,
    pairing: Phase,
    login: Phase,
    load_process: Memory,
    disconnects_while_idle: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(cli.clients > 0 && cli.concurrency > 0, "--clients and --concurrency must be positive");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let wagate = match cli.wagate.clone() {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("wagate"),
    };
    let (mut sandbox, base) = start_sandbox(&wagate).await?;
    let pid = sandbox.id().context("the sandbox process has no pid")?;
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::new(),
        base,
        client_timeout: Duration::from_secs(cli.client_timeout),
        disconnects: Arc::new(AtomicUsize::new(0)),
    });
    let result = run(&cli, &ctx, pid).await;
    sandbox.kill().await.context("stop the sandbox")?;
    report(&cli, &result?);
    Ok(())
}

async fn run(cli: &Cli, ctx: &Arc<Ctx>, pid: u32) -> anyhow::Result<Results> {
    let baseline = memory(pid)?;
    eprintln!("sandbox pid {pid} at {}, RSS {} KiB; pairing {} clients", ctx.base, baseline.rss_kib, cli.clients);

    let mut clients: Vec<Client> = (0..cli.clients)
        .map(|i| Client { phone: format!("+1555{i:07}"), backend: Arc::new(InMemoryBackend::new()), bot: None })
        .collect();
    let pairing = connect_all(cli, ctx, &mut clients, true).await?;
    eprintln!(
        "all {} paired and connected in {:.1} s; idle for {} s",
        cli.clients,
        pairing.wall.as_secs_f64(),
        cli.settle
    );

    let disconnects_before = ctx.disconnects.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(cli.settle)).await;
    let connected = memory(pid)?;
    let online_after_settle = online_companions(ctx).await?;
    let disconnects_while_idle = ctx.disconnects.load(Ordering::Relaxed) - disconnects_before;

    eprintln!("stopping every client");
    let mut stopping = JoinSet::new();
    for bot in clients.iter_mut().filter_map(|c| c.bot.take()) {
        stopping.spawn(bot.shutdown());
    }
    stopping.join_all().await;
    wait_until_online(ctx, 0).await?;
    let disconnected = memory(pid)?;

    eprintln!("logging every client in again with its stored credentials");
    let login = connect_all(cli, ctx, &mut clients, false).await?;
    eprintln!("all {} logged in in {:.1} s; idle for {} s", cli.clients, login.wall.as_secs_f64(), cli.settle);
    tokio::time::sleep(Duration::from_secs(cli.settle)).await;
    let reconnected = memory(pid)?;
    let online_after_reconnect = online_companions(ctx).await?;
    let load_process = memory(std::process::id())?;

    let mut stopping = JoinSet::new();
    for bot in clients.iter_mut().filter_map(|c| c.bot.take()) {
        stopping.spawn(bot.shutdown());
    }
    stopping.join_all().await;
    Ok(Results {
        baseline,
        connected,
        online_after_settle,
        disconnected,
        reconnected,
        online_after_reconnect,
        pairing,
        login,
        load_process,
        disconnects_while_idle,
    })
}

/// Connects every client, at most `--concurrency` at a time: a first connection pairs
/// it (the account is created, the phone scans its QR code), a later one logs in with
/// the stored credentials. Fails if any client does not get there.
async fn connect_all(cli: &Cli, ctx: &Arc<Ctx>, clients: &mut [Client], pair: bool) -> anyhow::Result<Phase> {
    let permits = Arc::new(Semaphore::new(cli.concurrency));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, client) in clients.iter().enumerate() {
        let (ctx, permits, phone, backend) =
            (ctx.clone(), permits.clone(), client.phone.clone(), client.backend.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let started = Instant::now();
            let bot = tokio::time::timeout(ctx.client_timeout, connect_one(&ctx, &phone, backend, pair))
                .await
                .with_context(|| format!("{phone} not connected within {:?}", ctx.client_timeout))??;
            anyhow::Ok((index, bot, started.elapsed()))
        });
    }
    let mut times = Vec::with_capacity(clients.len());
    while let Some(joined) = tasks.join_next().await {
        let (index, bot, took) = joined??;
        clients[index].bot = Some(bot);
        times.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        if times.len().is_multiple_of(100) {
            eprintln!("  {} connected after {:.1} s", times.len(), start.elapsed().as_secs_f64());
        }
    }
    Ok(Phase { wall: start.elapsed(), per_client: Percentiles::of(&mut times) })
}

async fn connect_one(ctx: &Ctx, phone: &str, backend: Arc<InMemoryBackend>, pair: bool) -> anyhow::Result<BotHandle> {
    let admin = format!("{}/sandbox/accounts", ctx.base);
    if pair {
        let created = ctx.http.post(&admin).json(&json!({"phone": phone, "name": "Load"})).send().await?;
        ensure!(created.status() == 201, "creating {phone} answered {}", created.status());
    }
    let (bot, mut signals) = start_client(ctx, backend).await?;
    if pair {
        let qr = match signals.recv().await.context("client stopped before showing a QR code")? {
            Signal::Qr(code) => code,
            Signal::Connected => bail!("{phone} connected without pairing"),
        };
        let scanned = ctx.http.post(format!("{admin}/{phone}/scan")).json(&json!({ "qr": qr })).send().await?;
        ensure!(scanned.status() == 200, "scanning for {phone} answered {}", scanned.status());
    }
    loop {
        match signals.recv().await.context("client stopped before connecting")? {
            Signal::Connected => return Ok(bot),
            Signal::Qr(_) if !pair => bail!("{phone} was shown a QR code at login"),
            Signal::Qr(_) => {}
        }
    }
}

/// A real whatsapp-rust client against the sandbox, as wagate's engine would run it.
async fn start_client(
    ctx: &Ctx,
    backend: Arc<InMemoryBackend>,
) -> anyhow::Result<(BotHandle, mpsc::UnboundedReceiver<Signal>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let disconnects = ctx.disconnects.clone();
    let kinds = [EventKind::PairingQrCode, EventKind::Connected, EventKind::Disconnected];
    let bot = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(
            TokioWebSocketTransportFactory::new().with_url(format!("{}/ws/chat", ctx.base.replacen("http", "ws", 1))),
        )
        .with_http_client(SandboxHttpClient::new(ctx.base.clone()))
        // A fixed version: the client would otherwise fetch it from web.whatsapp.com.
        .with_version((2, 3000, 0))
        .on_event_for(&kinds, move |event, _client| {
            let signal = match &*event {
                Event::PairingQrCode(q) if !q.code.is_empty() => Some(Signal::Qr(q.code.clone())),
                Event::Connected(_) => Some(Signal::Connected),
                Event::Disconnected(_) => {
                    disconnects.fetch_add(1, Ordering::Relaxed);
                    None
                }
                _ => None,
            };
            if let Some(signal) = signal {
                // Nobody listens once the client is connected; that is fine.
                let _ = tx.send(signal);
            }
            async {}
        })
        .build()
        .await?;
    Ok((bot.spawn(), rx))
}

/// Companion devices the sandbox counts as online, over all accounts.
async fn online_companions(ctx: &Ctx) -> anyhow::Result<usize> {
    let accounts: Vec<Value> = ctx.http.get(format!("{}/sandbox/accounts", ctx.base)).send().await?.json().await?;
    Ok(accounts
        .iter()
        .flat_map(|a| a["devices"].as_array().into_iter().flatten())
        .filter(|d| d["id"] != 0 && d["online"] == true)
        .count())
}

async fn wait_until_online(ctx: &Ctx, wanted: usize) -> anyhow::Result<()> {
    for _ in 0..600 {
        if online_companions(ctx).await? == wanted {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the sandbox never counted {wanted} companions online")
}

fn report(cli: &Cli, r: &Results) {
    let n = cli.clients as u64;
    let per_client = |m: Memory| format!("{:.0} KiB", m.rss_kib.saturating_sub(r.baseline.rss_kib) as f64 / n as f64);
    println!("## Sandbox: {} clients, {} at a time, {} s idle before each reading\n", n, cli.concurrency, cli.settle);
    println!("| Measure | Value |\n|---|---:|");
    println!("| Sandbox RSS, no clients (baseline) | {} |", mib(r.baseline.rss_kib));
    println!("| Sandbox RSS, {n} paired clients connected and idle | {} |", mib(r.connected.rss_kib));
    println!("| Marginal RSS per connected client | {} |", per_client(r.connected));
    println!("| Sandbox RSS, all disconnected (accounts kept) | {} |", mib(r.disconnected.rss_kib));
    println!("| Sandbox RSS, {n} logged in again and idle | {} |", mib(r.reconnected.rss_kib));
    println!("| Marginal RSS per client, after the logins | {} |", per_client(r.reconnected));
    println!("| Sandbox peak RSS (VmHWM) | {} |", mib(r.reconnected.hwm_kib));
    println!(
        "| Companions online after idling (paired / logged in again) | {} / {} |",
        r.online_after_settle, r.online_after_reconnect
    );
    println!("| Disconnections while idle | {} |", r.disconnects_while_idle);
    println!("| Pair and connect all (wall) | {:.1} s |", r.pairing.wall.as_secs_f64());
    println!(
        "| Pair and connect, per client p50 / p99 / max | {} / {} / {} |",
        ms(r.pairing.per_client.p50),
        ms(r.pairing.per_client.p99),
        ms(r.pairing.per_client.max)
    );
    println!("| Log in with stored credentials, all (wall) | {:.1} s |", r.login.wall.as_secs_f64());
    println!(
        "| Log in, per client p50 / p99 / max | {} / {} / {} |",
        ms(r.login.per_client.p50),
        ms(r.login.per_client.p99),
        ms(r.login.per_client.max)
    );
    println!("| Load process RSS ({n} whatsapp-rust clients) | {} |", mib(r.load_process.rss_kib));
}
