//! `gateway-load`: memory of wagate's real WhatsApp engine per connected session, and
//! the time to restore every session after a restart.
//!
//! Starts `wagate sandbox` and `wagate serve --sandbox-url …` as two processes, links N
//! sessions through the gateway's HTTP API (create the session, read its QR code, have
//! the sandbox phone scan it, wait for `connected`), reads the gateway's memory from
//! /proc after a first batch and after all of them, then stops the gateway with SIGTERM,
//! starts it again on the same data directory and measures how long until every session
//! is connected again. Prints a Markdown summary; progress goes to stderr. See
//! docs/BENCHMARKS.md.

mod gateway_process;
#[allow(dead_code)] // shared with the other benchmarks, which use all of it
mod process;
#[allow(dead_code)] // shared with wagate-bench, which uses all of it
mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::gateway_process::{start_gateway, stop_gateway};
use crate::process::{Memory, memory, mib, start_sandbox};
use crate::stats::{Percentiles, ms};

/// The acceptance targets.
const TARGET_KIB_PER_SESSION: f64 = 2.0 * 1024.0;
const TARGET_RESTORE: Duration = Duration::from_secs(10);
const TARGET_HEALTHY: Duration = Duration::from_secs(1);

/// Memory per connected session of one gateway process, and the time to restore them all.
#[derive(Parser)]
#[command(name = "gateway-load")]
struct Cli {
    /// Sessions to link and keep connected, one sandbox account each.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// The first memory reading is taken with this many sessions connected.
    #[arg(long, default_value_t = 100)]
    first: usize,
    /// Sessions being linked at the same time.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds the gateway stays idle before each memory reading.
    #[arg(long, default_value_t = 30)]
    settle: u64,
    /// Seconds one session may take to be linked before the run fails.
    #[arg(long, default_value_t = 120)]
    session_timeout: u64,
    /// Seconds the restarted gateway may take to connect every session.
    #[arg(long, default_value_t = 300)]
    restore_timeout: u64,
    /// The gateway's log filter (`WAGATE_LOG`); its log goes to a file in the data
    /// directory, and its tail to stderr when the run fails.
    #[arg(long, default_value = "warn")]
    log: String,
    /// The `wagate` binary built with `--features sandbox`; by default the one beside
    /// this binary.
    #[arg(long)]
    wagate: Option<PathBuf>,
    /// Keep the gateway's working directory (database, `gateway.log`) and print its path.
    #[arg(long)]
    keep: bool,
}

#[derive(Clone)]
struct Ctx {
    http: reqwest::Client,
    gateway: String,
    sandbox: String,
    key: String,
    session_timeout: Duration,
}

/// Memory of both processes at one moment.
#[derive(Clone, Copy)]
struct Reading {
    sessions: usize,
    gateway: Memory,
    sandbox: Memory,
    threads: u64,
    fds: usize,
    /// The gateway's data directory (SQLite database and WAL), bytes.
    data_bytes: u64,
}

struct Phase {
    wall: Duration,
    per_session: Percentiles,
}

struct Restore {
    shutdown: Duration,
    listening: Duration,
    healthy: Duration,
    all_connected: Duration,
    /// Seconds after the start at which each tenth of the sessions was connected.
    progress: Vec<(usize, Duration)>,
}

struct Results {
    readings: Vec<Reading>,
    pairing: Vec<Phase>,
    restore: Restore,
    after_restore: Reading,
    final_shutdown: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(
        cli.sessions > 0 && cli.concurrency > 0 && cli.first > 0 && cli.first <= cli.sessions,
        "--sessions, --first and --concurrency must be positive, --first at most --sessions"
    );
    let wagate = match cli.wagate.clone() {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("wagate"),
    };
    let mut dir =
        tempfile::Builder::new().prefix("gateway-load-").tempdir().context("create the gateway's working directory")?;
    let (mut sandbox, sandbox_base) = start_sandbox(&wagate).await?;
    let sandbox_pid = sandbox.id().context("the sandbox process has no pid")?;
    let result = run(&cli, &wagate, dir.path(), &sandbox_base, sandbox_pid).await;
    sandbox.kill().await.context("stop the sandbox")?;
    if cli.keep {
        dir.disable_cleanup(true);
        eprintln!("kept the gateway's working directory: {}", dir.path().display());
    }
    match result {
        Ok(results) => {
            report(&cli, &results);
            Ok(())
        }
        Err(e) => {
            let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("the gateway's log ends with:");
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run(cli: &Cli, wagate: &Path, dir: &Path, sandbox_base: &str, sandbox_pid: u32) -> anyhow::Result<Results> {
    let settle = Duration::from_secs(cli.settle);
    let data = dir.join("data");
    let (mut gateway, key) = start_gateway(wagate, dir, sandbox_base, &cli.log, None).await?;
    let key = key.context("the first start printed no `export WAGATE_KEY=…` line")?;
    eprintln!(
        "gateway pid {} at {} (listening after {:.2} s), sandbox pid {sandbox_pid} at {sandbox_base}",
        gateway.pid,
        gateway.base,
        gateway.listening_after.as_secs_f64()
    );
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::new(),
        gateway: gateway.base.clone(),
        sandbox: sandbox_base.to_owned(),
        key,
        session_timeout: Duration::from_secs(cli.session_timeout),
    });

    eprintln!("idle for {} s with no sessions", cli.settle);
    tokio::time::sleep(settle).await;
    let mut readings = vec![read(&ctx, &data, gateway.pid, sandbox_pid, 0).await?];
    let mut pairing = Vec::new();
    let mut linked = 0;
    for target in [cli.first, cli.sessions] {
        if target == linked {
            continue;
        }
        eprintln!("linking sessions {linked}..{target}, {} at a time", cli.concurrency);
        pairing.push(link_all(cli, &ctx, linked..target).await?);
        linked = target;
        eprintln!("{linked} connected; idle for {} s", cli.settle);
        tokio::time::sleep(settle).await;
        readings.push(read(&ctx, &data, gateway.pid, sandbox_pid, linked).await?);
    }

    eprintln!("stopping the gateway (SIGTERM)");
    let shutdown = stop_gateway(&mut gateway).await?;
    eprintln!("stopped in {:.1} s; starting it again on the same data directory", shutdown.as_secs_f64());
    let started = Instant::now();
    let (mut gateway, _) =
        start_gateway(wagate, dir, sandbox_base, &cli.log, Some(Duration::from_secs(cli.restore_timeout))).await?;
    let ctx = Arc::new(Ctx { gateway: gateway.base.clone(), ..(*ctx).clone() });
    let (all_connected, progress) =
        wait_all_connected(&ctx, started, cli.sessions, Duration::from_secs(cli.restore_timeout)).await?;
    let restore = Restore {
        shutdown,
        listening: gateway.listening_after,
        healthy: gateway.healthy_after,
        all_connected,
        progress,
    };
    eprintln!(
        "all {} connected {:.1} s after the start; idle for {} s",
        cli.sessions,
        all_connected.as_secs_f64(),
        cli.settle
    );
    tokio::time::sleep(settle).await;
    let after_restore = read(&ctx, &data, gateway.pid, sandbox_pid, cli.sessions).await?;
    let final_shutdown = stop_gateway(&mut gateway).await?;
    Ok(Results { readings, pairing, restore, after_restore, final_shutdown })
}

/// Links the sessions `range`, at most `--concurrency` at a time.
async fn link_all(cli: &Cli, ctx: &Arc<Ctx>, range: std::ops::Range<usize>) -> anyhow::Result<Phase> {
    let permits = Arc::new(Semaphore::new(cli.concurrency));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let total = range.len();
    for i in range {
        let (ctx, permits) = (ctx.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let started = Instant::now();
            tokio::time::timeout(ctx.session_timeout, link_one(&ctx, i))
                .await
                .with_context(|| format!("session s{i} not connected within {:?}", ctx.session_timeout))??;
            anyhow::Ok(started.elapsed())
        });
    }
    let mut times = Vec::with_capacity(total);
    while let Some(joined) = tasks.join_next().await {
        let took = joined??;
        times.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        if times.len().is_multiple_of(100) {
            eprintln!("  {} of {total} connected after {:.1} s", times.len(), start.elapsed().as_secs_f64());
        }
    }
    Ok(Phase { wall: start.elapsed(), per_session: Percentiles::of(&mut times) })
}

/// One session as a user links it: a sandbox number, a gateway session, its QR code
/// scanned by the number's phone, then `connected`.
async fn link_one(ctx: &Ctx, i: usize) -> anyhow::Result<()> {
    let phone = format!("+49151{i:08}");
    let name = format!("s{i}");
    let accounts = format!("{}/sandbox/accounts", ctx.sandbox);
    let created = ctx.http.post(&accounts).json(&json!({"phone": phone, "name": format!("Load {i}")})).send().await?;
    ensure!(
        created.status() == StatusCode::CREATED,
        "creating the sandbox number {phone} answered {}",
        created.status()
    );

    let sessions = format!("{}/api/v1/sessions", ctx.gateway);
    let created = ctx.http.post(&sessions).header("X-API-Key", &ctx.key).json(&json!({ "name": name })).send().await?;
    ensure!(created.status() == StatusCode::CREATED, "creating session {name} answered {}", created.status());

    // The QR code, scanned; a code that rotated between the two calls is read again.
    loop {
        let qr = ctx.http.get(format!("{sessions}/{name}/qr")).header("X-API-Key", &ctx.key).send().await?;
        if qr.status() == StatusCode::OK {
            let body: Value = qr.json().await?;
            let code = body["qr"].as_str().with_context(|| format!("no qr in {body}"))?;
            let scanned = ctx.http.post(format!("{accounts}/{phone}/scan")).json(&json!({ "qr": code })).send().await?;
            match scanned.status() {
                StatusCode::OK => break,
                StatusCode::NOT_FOUND => {}
                other => bail!("scanning for {name} answered {other}: {}", scanned.text().await.unwrap_or_default()),
            }
        } else if qr.status() != StatusCode::SERVICE_UNAVAILABLE {
            // Not a 503 (no code yet: the session is starting): something is wrong.
            bail!("the QR code of {name} answered {}: {}", qr.status(), qr.text().await.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    loop {
        let session: Value =
            ctx.http.get(format!("{sessions}/{name}")).header("X-API-Key", &ctx.key).send().await?.json().await?;
        match session["status"].as_str() {
            Some("connected") => return Ok(()),
            Some("stopped" | "logged_out" | "banned") => bail!("session {name} ended: {session}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The sessions' statuses, counted, from one list call.
async fn statuses(ctx: &Ctx) -> anyhow::Result<BTreeMap<String, usize>> {
    let answer = ctx.http.get(format!("{}/api/v1/sessions", ctx.gateway)).header("X-API-Key", &ctx.key).send().await?;
    ensure!(answer.status() == StatusCode::OK, "listing sessions answered {}", answer.status());
    let sessions: Vec<Value> = answer.json().await?;
    let mut counts = BTreeMap::new();
    for session in &sessions {
        *counts.entry(session["status"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Polls the session list until `n` sessions are connected; returns the time since
/// `started`, and when each tenth of them was connected.
async fn wait_all_connected(
    ctx: &Ctx,
    started: Instant,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<(Duration, Vec<(usize, Duration)>)> {
    let mut progress = Vec::new();
    let step = n.div_ceil(10);
    loop {
        let counts = statuses(ctx).await?;
        let connected = counts.get("connected").copied().unwrap_or(0);
        let now = started.elapsed();
        while progress.len() < 10 && connected >= (progress.len() + 1) * step {
            progress.push(((progress.len() + 1) * step, now));
        }
        if connected >= n {
            return Ok((now, progress));
        }
        if now > timeout {
            bail!("{connected} of {n} sessions connected {timeout:?} after the restart: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Both processes' memory; the gateway must count `sessions` connected.
async fn read(ctx: &Ctx, data: &Path, gateway_pid: u32, sandbox_pid: u32, sessions: usize) -> anyhow::Result<Reading> {
    let gateway = memory(gateway_pid)?;
    let sandbox = memory(sandbox_pid)?;
    let status = std::fs::read_to_string(format!("/proc/{gateway_pid}/status"))?;
    let threads =
        status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{gateway_pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let data_bytes = std::fs::read_dir(data)?
        .map(|entry| Ok(entry?.metadata()?.len()))
        .sum::<std::io::Result<u64>>()
        .context("size of the data directory")?;
    let counts = statuses(ctx).await?;
    let connected = counts.get("connected").copied().unwrap_or(0);
    ensure!(connected == sessions, "after idling, {connected} of {sessions} sessions are connected: {counts:?}");
    eprintln!(
        "  {sessions} sessions: gateway RSS {} (peak {}), {threads} threads, {fds} fds, data {}; sandbox RSS {}",
        mib(gateway.rss_kib),
        mib(gateway.hwm_kib),
        mib(data_bytes / 1024),
        mib(sandbox.rss_kib)
    );
    Ok(Reading { sessions, gateway, sandbox, threads, fds, data_bytes })
}

fn per_session(from: &Reading, to: &Reading) -> f64 {
    let sessions = (to.sessions - from.sessions) as f64;
    (to.gateway.rss_kib as f64 - from.gateway.rss_kib as f64) / sessions
}

fn kib(value: f64) -> String {
    if value >= 1024.0 { format!("{:.2} MiB", value / 1024.0) } else { format!("{value:.0} KiB") }
}

fn report(cli: &Cli, r: &Results) {
    let n = cli.sessions;
    println!(
        "## Gateway: {n} sessions on the real engine against one sandbox process, {} linked at a time, \
         {} s idle before each reading\n",
        cli.concurrency, cli.settle
    );
    println!(
        "| Sessions connected and idle | Gateway RSS | Threads | Open fds | Database files | Sandbox RSS |\n\
         |---:|---:|---:|---:|---:|---:|"
    );
    for reading in r.readings.iter().chain([&r.after_restore]) {
        let label = if std::ptr::eq(reading, &r.after_restore) {
            format!("{} (after the restart)", reading.sessions)
        } else {
            reading.sessions.to_string()
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            mib(reading.gateway.rss_kib),
            reading.threads,
            reading.fds,
            mib(reading.data_bytes / 1024),
            mib(reading.sandbox.rss_kib)
        );
    }
    println!("\n| Measure | Value |\n|---|---:|");
    let base = &r.readings[0];
    for pair in r.readings.windows(2) {
        println!(
            "| Marginal gateway RSS per session, {} → {} | {} |",
            pair[0].sessions,
            pair[1].sessions,
            kib(per_session(&pair[0], &pair[1]))
        );
    }
    let last = r.readings.last().expect("a reading with sessions");
    if r.readings.len() > 2 {
        println!("| Marginal gateway RSS per session, 0 → {} | {} |", last.sessions, kib(per_session(base, last)));
    }
    println!(
        "| Marginal gateway RSS per session, 0 → {n} after the restart | {} |",
        kib(per_session(base, &r.after_restore))
    );
    println!("| Gateway peak RSS (VmHWM) before the restart | {} |", mib(last.gateway.hwm_kib));
    println!("| Gateway peak RSS (VmHWM) after the restart | {} |", mib(r.after_restore.gateway.hwm_kib));
    for (phase, from_to) in r.pairing.iter().zip(r.readings.windows(2)) {
        let (a, b) = (from_to[0].sessions, from_to[1].sessions);
        println!("| Link sessions {a} → {b} (wall) | {:.1} s |", phase.wall.as_secs_f64());
        println!(
            "| Link one session, p50 / p99 / max | {} / {} / {} |",
            ms(phase.per_session.p50),
            ms(phase.per_session.p99),
            ms(phase.per_session.max)
        );
    }
    println!("| Stop on SIGTERM with {n} sessions connected | {:.1} s |", r.restore.shutdown.as_secs_f64());
    println!("| Restart: listening | {:.2} s |", r.restore.listening.as_secs_f64());
    println!("| Restart: `GET /api/v1/health` answers 200 | {:.2} s |", r.restore.healthy.as_secs_f64());
    println!("| Restart: all {n} sessions connected | {:.2} s |", r.restore.all_connected.as_secs_f64());
    let progress: Vec<String> =
        r.restore.progress.iter().map(|(count, at)| format!("{count}: {:.1} s", at.as_secs_f64())).collect();
    println!("| Restart: connected by time | {} |", progress.join(", "));
    println!("| Stop on SIGTERM after the restart | {:.1} s |", r.final_shutdown.as_secs_f64());

    let worst = r.readings.windows(2).map(|p| per_session(&p[0], &p[1])).fold(f64::MIN, f64::max);
    let memory_met = worst <= TARGET_KIB_PER_SESSION;
    let restore_met = r.restore.all_connected <= TARGET_RESTORE;
    let healthy_met = r.restore.healthy <= TARGET_HEALTHY;
    println!(
        "\nTargets: at most 2 MiB per session: {} (worst marginal {}); the API answers within 1 s of the start: {} \
         ({:.2} s); restore {n} sessions in at most 10 s: {} ({:.1} s).",
        if memory_met { "met" } else { "missed" },
        kib(worst),
        if healthy_met { "met" } else { "missed" },
        r.restore.healthy.as_secs_f64(),
        if restore_met { "met" } else { "missed" },
        r.restore.all_connected.as_secs_f64()
    );
}
