//! `slow-clients`: the HTTP server under 10,000 connections that send their request
//! head a byte at a time, while a normal client keeps asking `GET /api/v1/health`.
//!
//! Starts `wagate serve` (a release build, a fresh data directory, no sessions) as a
//! process on 127.0.0.1, lets a normal client request the health route every 50 ms over
//! one kept-alive connection (and once a second over a new connection), opens the slow
//! connections, each sending one byte of a never-ending header every second for
//! `--seconds`, then closes them and lets the server idle. It reports when the server
//! closed the slow connections, the normal requests' latency before, during and after,
//! how many connections the server held at once (its open sockets, from /proc), and its
//! RSS at the start, at the peak and after they closed. Prints a Markdown summary;
//! progress goes to stderr. See docs/BENCHMARKS.md.

#[allow(dead_code)] // shared with the other benchmarks, which use all of it
mod process;
#[allow(dead_code)] // shared with wagate-bench, which uses all of it
mod stats;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::process::{free_port, memory, mib};
use crate::stats::{Percentiles, ms, thousands};

/// The acceptance targets.
const TARGET_PEAK_KIB: u64 = 150 * 1024;
const TARGET_RETURN_KIB: u64 = 20 * 1024;

/// What slow clients cost the HTTP server.
#[derive(Parser)]
#[command(name = "slow-clients")]
struct Cli {
    /// Slow connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Seconds each slow connection keeps sending (one byte a second) before it gives up.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Connection attempts in flight at once while opening them.
    #[arg(long, default_value_t = 1000)]
    opening: usize,
    /// Seconds of idling before the first and after the last memory reading.
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// `WAGATE_HTTP__HEADER_READ_TIMEOUT_MS` for the server; its default when unset.
    #[arg(long)]
    header_read_timeout_ms: Option<u64>,
    /// `WAGATE_HTTP__MAX_CONNECTIONS` for the server; its default when unset.
    #[arg(long)]
    max_connections: Option<usize>,
    /// The `wagate` binary; by default the one beside this binary.
    #[arg(long)]
    wagate: Option<PathBuf>,
}

/// One slow connection's story, in time since the slow connections started.
#[derive(Clone, Copy, Default)]
struct Slow {
    connected: Option<Duration>,
    /// When the server closed it (EOF or reset), if it did before the client gave up.
    closed_by_server: Option<Duration>,
    /// Whether the server sent any byte (it should not: the request never completes).
    answered: bool,
}

/// A normal request: when it started (since the slow connections started; negative
/// before) and how long it took, or that it failed.
struct Probe {
    at: f64,
    micros: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(cli.connections > 0 && cli.seconds > 0 && cli.opening > 0, "the counts must be positive");
    let wagate = match cli.wagate.clone() {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("wagate"),
    };
    let limit = open_files_limit()?;
    ensure!(
        limit >= cli.connections as u64 + 200,
        "this process may open {limit} files, fewer than {} connections need: raise it (`ulimit -n {}`)",
        cli.connections,
        cli.connections + 1000
    );
    let dir = tempfile::Builder::new().prefix("slow-clients-").tempdir()?;
    let port = free_port()?;
    let mut server = start(&cli, &wagate, dir.path(), port).await?;
    let pid = server.id().context("no pid")?;
    let result = run(&cli, pid, port).await;
    let _ = server.kill().await;
    let (slow, probes, samples, readings) = match result {
        Ok(results) => results,
        Err(e) => {
            let log = std::fs::read_to_string(dir.path().join("wagate.log")).unwrap_or_default();
            eprintln!("the server's log ends with:\n{}", log.lines().rev().take(20).collect::<Vec<_>>().join("\n"));
            return Err(e);
        }
    };
    report(&cli, &slow, &probes, &samples, readings);
    Ok(())
}

/// `wagate serve` on 127.0.0.1:`port` in `dir`, once it answers.
async fn start(cli: &Cli, wagate: &Path, dir: &Path, port: u16) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join("wagate.log"))?;
    let mut command = Command::new(wagate);
    command
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("WAGATE_BIND", format!("127.0.0.1:{port}"))
        .env("WAGATE_DATA_DIR", dir.join("data"))
        .env("WAGATE_API_KEY", "wag_slow_clients_bench_key_0123")
        .env("WAGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    if let Some(ms) = cli.header_read_timeout_ms {
        command.env("WAGATE_HTTP__HEADER_READ_TIMEOUT_MS", ms.to_string());
    }
    if let Some(n) = cli.max_connections {
        command.env("WAGATE_HTTP__MAX_CONNECTIONS", n.to_string());
    }
    let mut child = command.spawn().with_context(|| format!("start {}", wagate.display()))?;
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            bail!("wagate serve exited at start ({status})");
        }
        if http.get(format!("http://127.0.0.1:{port}/api/v1/health")).send().await.is_ok() {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("wagate serve did not answer within 30 s")
}

/// Server memory and sockets, sampled through the run.
struct Sample {
    rss_kib: u64,
    sockets: usize,
}

struct Readings {
    start_kib: u64,
    peak_kib: u64,
    after_kib: u64,
    /// When the last slow connection was closed, by either side.
    all_closed_at: f64,
}

type Results = (Vec<Slow>, Vec<(bool, Probe)>, Vec<Sample>, Readings);

async fn run(cli: &Cli, pid: u32, port: u16) -> anyhow::Result<Results> {
    let base = format!("http://127.0.0.1:{port}");
    let done = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(Mutex::new(Vec::<(bool, Probe)>::new()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let before = Instant::now() + Duration::from_secs(cli.settle);

    let mut background = JoinSet::new();
    background.spawn(probe(base.clone(), before, done.clone(), probes.clone(), Duration::from_millis(50), true));
    background.spawn(probe(base.clone(), before, done.clone(), probes.clone(), Duration::from_secs(1), false));
    background.spawn(sample(pid, done.clone(), samples.clone()));

    eprintln!("server pid {pid} on {base}; idle for {} s", cli.settle);
    tokio::time::sleep_until(before.into()).await;
    let start_kib = memory(pid)?.rss_kib;
    eprintln!("RSS {}; opening {} slow connections", mib(start_kib), thousands(cli.connections as u64));

    let opening = Arc::new(Semaphore::new(cli.opening));
    let mut slow = JoinSet::new();
    let give_up = before + Duration::from_secs(cli.seconds);
    for _ in 0..cli.connections {
        slow.spawn(slow_connection(port, before, give_up, opening.clone()));
    }
    let mut stories = Vec::with_capacity(cli.connections);
    while let Some(joined) = slow.join_next().await {
        stories.push(joined?);
    }
    let all_closed_at = before.elapsed().as_secs_f64();
    eprintln!("all slow connections closed after {all_closed_at:.1} s; idle for {} s", cli.settle);
    tokio::time::sleep(Duration::from_secs(cli.settle)).await;
    let after_kib = memory(pid)?.rss_kib;
    let peak_kib = memory(pid)?.hwm_kib;
    done.store(true, Ordering::Relaxed);
    while background.join_next().await.is_some() {}
    let probes = std::mem::take(&mut *probes.lock().await);
    let samples = std::mem::take(&mut *samples.lock().await);
    Ok((stories, probes, samples, Readings { start_kib, peak_kib, after_kib, all_closed_at }))
}

/// A request head that never ends: one byte a second until `give_up`.
async fn slow_connection(port: u16, origin: Instant, give_up: Instant, opening: Arc<Semaphore>) -> Slow {
    let mut story = Slow::default();
    let permit = opening.acquire_owned().await;
    let connected = tokio::time::timeout_at(give_up.into(), TcpStream::connect(("127.0.0.1", port))).await;
    drop(permit);
    let Ok(Ok(stream)) = connected else {
        return story;
    };
    story.connected = Some(origin.elapsed());
    let (mut reader, mut writer) = stream.into_split();
    let head = format!("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}", "a".repeat(400));
    let mut bytes = head.bytes();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            read = reader.read(&mut buf) => {
                match read {
                    Ok(n) if n > 0 => story.answered = true,
                    _ => {}
                }
                story.closed_by_server = Some(origin.elapsed());
                break;
            }
            _ = tick.tick() => {
                if Instant::now() >= give_up {
                    break;
                }
                let byte = bytes.next().unwrap_or(b'a');
                if writer.write_all(&[byte]).await.is_err() {
                    story.closed_by_server = Some(origin.elapsed());
                    break;
                }
            }
        }
    }
    story
}

/// Asks `GET /api/v1/health` every `every` until `done`: over one kept-alive connection,
/// or a new connection each time.
async fn probe(
    base: String,
    origin: Instant,
    done: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<(bool, Probe)>>>,
    every: Duration,
    keep_alive: bool,
) {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
    if !keep_alive {
        builder = builder.pool_max_idle_per_host(0);
    }
    let client = builder.build().expect("an HTTP client");
    let url = format!("{base}/api/v1/health");
    let mut tick = tokio::time::interval(every);
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        let started = Instant::now();
        let ok = client.get(&url).send().await.is_ok_and(|r| r.status().is_success());
        let micros = ok.then(|| u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        let at = signed_since(origin, started);
        probes.lock().await.push((keep_alive, Probe { at, micros }));
    }
}

/// The server's RSS and open sockets every 200 ms until `done`.
async fn sample(pid: u32, done: Arc<AtomicBool>, samples: Arc<Mutex<Vec<Sample>>>) {
    while !done.load(Ordering::Relaxed) {
        if let Ok(m) = memory(pid) {
            let sockets = sockets(pid).unwrap_or(0);
            samples.lock().await.push(Sample { rss_kib: m.rss_kib, sockets });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Seconds from `origin` to `at`, negative before it.
fn signed_since(origin: Instant, at: Instant) -> f64 {
    if at >= origin { (at - origin).as_secs_f64() } else { -(origin - at).as_secs_f64() }
}

/// Sockets the process holds open (its listener and every connection it accepted).
fn sockets(pid: u32) -> anyhow::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        if std::fs::read_link(entry?.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:")) {
            n += 1;
        }
    }
    Ok(n)
}

/// The soft limit of open files of this process, from /proc/self/limits.
fn open_files_limit() -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits.lines().find(|l| l.starts_with("Max open files")).context("no open-files limit")?;
    let soft = line.split_whitespace().nth(3).context("no soft limit")?;
    Ok(if soft == "unlimited" { u64::MAX } else { soft.parse()? })
}

fn report(cli: &Cli, slow: &[Slow], probes: &[(bool, Probe)], samples: &[Sample], r: Readings) {
    let connected: Vec<&Slow> = slow.iter().filter(|s| s.connected.is_some()).collect();
    let closed: Vec<f64> =
        connected.iter().filter_map(|s| Some((s.closed_by_server? - s.connected?).as_secs_f64())).collect();
    let answered = slow.iter().filter(|s| s.answered).count();
    let mut lifetimes: Vec<u32> = closed.iter().map(|s| (s * 1e6) as u32).collect();
    let life = Percentiles::of(&mut lifetimes);
    let mut closed_at: Vec<u32> =
        connected.iter().filter_map(|s| s.closed_by_server).map(|d| d.as_millis() as u32 * 1000).collect();
    let last_closed = Percentiles::of(&mut closed_at).max;
    let peak_sockets = samples.iter().map(|s| s.sockets).max().unwrap_or(0);
    let peak_sampled = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);

    println!("## slow-clients\n");
    println!(
        "{} slow connections, one header byte a second for {} s; server `wagate serve` defaults{}{}.\n",
        thousands(cli.connections as u64),
        cli.seconds,
        cli.header_read_timeout_ms.map(|ms| format!(", header_read_timeout_ms {ms}")).unwrap_or_default(),
        cli.max_connections.map(|n| format!(", max_connections {n}")).unwrap_or_default(),
    );
    println!("| Slow connections | Value |");
    println!("|---|---:|");
    println!("| Connected (TCP handshake done) within the run | {} |", thousands(connected.len() as u64));
    println!("| Closed by the server | {} |", thousands(closed.len() as u64));
    println!("| Still open when the client gave up | {} |", thousands((connected.len() - closed.len()) as u64));
    println!("| Got any answer byte | {answered} |");
    println!(
        "| Time from connect to close by the server: p50 / p99 / max | {} / {} / {} |",
        secs(life.p50),
        secs(life.p99),
        secs(life.max)
    );
    println!("| Last close by the server, after the first connection | {} |", secs(last_closed));
    println!("| All slow connections gone, after the first | {:.1} s |", r.all_closed_at);
    println!("| Server sockets at once, at most (listener included) | {} |", thousands(peak_sockets as u64));
    println!();
    println!("| Normal `GET /api/v1/health` | Requests | Failed | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (keep_alive, name) in [(true, "kept-alive connection, every 50 ms"), (false, "new connection, every 1 s")] {
        for (phase, range) in
            [("before", f64::MIN..0.0), ("during", 0.0..r.all_closed_at), ("after", r.all_closed_at..f64::MAX)]
        {
            let chosen: Vec<&Probe> =
                probes.iter().filter(|(k, p)| *k == keep_alive && range.contains(&p.at)).map(|(_, p)| p).collect();
            let failed = chosen.iter().filter(|p| p.micros.is_none()).count();
            let mut times: Vec<u32> = chosen.iter().filter_map(|p| p.micros).collect();
            let p = Percentiles::of(&mut times);
            println!(
                "| {name}, {phase} | {} | {failed} | {} | {} | {} |",
                chosen.len(),
                ms(p.p50),
                ms(p.p99),
                ms(p.max)
            );
        }
    }
    println!();
    println!("| Server RSS | Value | Target |");
    println!("|---|---:|---:|");
    println!("| At the start (idle) | {} | |", mib(r.start_kib));
    println!(
        "| Peak (VmHWM; highest sampled every 200 ms: {}) | {} | < {} |",
        mib(peak_sampled),
        mib(r.peak_kib),
        mib(TARGET_PEAK_KIB)
    );
    println!(
        "| {} s after the last slow connection closed | {} | within {} of the start |",
        cli.settle,
        mib(r.after_kib),
        mib(TARGET_RETURN_KIB)
    );
    let peak_ok = r.peak_kib < TARGET_PEAK_KIB;
    let back_ok = r.after_kib <= r.start_kib + TARGET_RETURN_KIB;
    println!("\nPeak under target: {}; back within target: {}.", yes(peak_ok), yes(back_ok));
}

fn secs(micros: u32) -> String {
    format!("{:.1} s", f64::from(micros) / 1e6)
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}
