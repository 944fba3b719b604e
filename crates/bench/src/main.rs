//! `cargo run --release -p wagate-bench`: how many messages per second wagate accepts
//! durably (stored in SQLite with synchronous=FULL before the 202), and how fast it
//! answers at a fixed rate. Prints a Markdown summary; exits non-zero on any non-202
//! answer or when the database does not hold exactly the accepted messages.

mod client;
mod server;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use hyper::StatusCode;
use hyper::body::Bytes;
use tracing_subscriber::EnvFilter;
use wagate_engine::UnavailableEngine;

use crate::client::{Conn, Outcome, closed_loop, open_loop};
use crate::server::{Server, count_messages};
use crate::stats::{Percentiles, ms, thousands};

const API_KEY: &str = "wag_bench_key_0123456789";
/// Why the benchmark's sessions do not connect: it measures accepting, not sending.
const NO_ENGINE: &str = "the accept benchmark runs without a WhatsApp engine";
/// The issue's targets.
const TARGET_RATE: f64 = 10_000.0;
const TARGET_P99_US: u32 = 10_000;

/// Benchmark of durable accepts of POST /api/v1/messages on SQLite.
#[derive(Parser)]
#[command(name = "wagate-bench")]
struct Cli {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of each measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests per second of the fixed-rate phase; half the measured throughput when unset.
    #[arg(long)]
    rate: Option<f64>,
    /// Unmeasured closed-loop load before the throughput phase.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

struct Results {
    warmup: Outcome,
    throughput: Outcome,
    fixed: Outcome,
    rate: f64,
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if cli.connections == 0 || cli.seconds == 0 || cli.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--connections, --seconds and --rate must be positive");
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();

    let engine = Arc::new(UnavailableEngine::new(NO_ENGINE));
    let server = Server::start(API_KEY, engine, |_| {})?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .context("build the client runtime")?;
    let mut results = runtime.block_on(run(&cli, server.addr))?;
    eprintln!("stopping the server");
    let (_dir, db_path) = server.stop()?;
    let rows = runtime.block_on(count_messages(&db_path))?;
    let ok = report(&cli, &mut results, rows);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn run(cli: &Cli, addr: std::net::SocketAddr) -> anyhow::Result<Results> {
    let key: Arc<str> = Arc::from(API_KEY);
    let mut conns = Vec::with_capacity(cli.connections);
    for _ in 0..cli.connections {
        conns.push(Conn::open(addr, key.clone()).await?);
    }
    let session = Bytes::from_static(br#"{"name":"bench"}"#);
    let (status, body) = conns[0].post("/api/v1/sessions", session).await?;
    if status != StatusCode::CREATED {
        bail!("creating the session answered {status}: {}", String::from_utf8_lossy(&body));
    }

    let seconds = Duration::from_secs(cli.seconds);
    eprintln!("warm-up: {} s closed loop, {} connections", cli.warmup, cli.connections);
    let (conns, warmup) = closed_loop(conns, Duration::from_secs(cli.warmup)).await;
    eprintln!("throughput: {} s closed loop", cli.seconds);
    let (conns, throughput) = closed_loop(conns, seconds).await;
    let rate = cli.rate.unwrap_or_else(|| (throughput.rate() / 2.0).round().max(1.0));
    eprintln!("measured {:.0} accepted/s; fixed rate: {} s open loop at {rate:.0}/s", throughput.rate(), cli.seconds);
    let (conns, fixed) = open_loop(conns, rate, seconds).await;
    // Closing the connections lets the server's graceful shutdown finish.
    drop(conns);
    Ok(Results { warmup, throughput, fixed, rate })
}

/// Prints the summary; true when every request was accepted and is in the database.
fn report(cli: &Cli, r: &mut Results, rows: u64) -> bool {
    let accepted = r.warmup.accepted + r.throughput.accepted + r.fixed.accepted;
    let errors = r.warmup.errors + r.throughput.errors + r.fixed.errors;
    let through = Percentiles::of(&mut r.throughput.latency_us);
    let fixed = Percentiles::of(&mut r.fixed.latency_us);
    let service = Percentiles::of(&mut r.fixed.service_us);
    let row = |name: &str, offered: &str, out: Option<&Outcome>, p: &Percentiles| {
        let (count, rate) =
            out.map_or(("".into(), "".into()), |o| (thousands(o.accepted), thousands(o.rate().round() as u64)));
        println!(
            "| {name} | {offered} | {count} | {rate} | {} | {} | {} | {} | {} |",
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max)
        );
    };

    println!();
    println!("## Durable accepts (POST /api/v1/messages, SQLite)");
    println!();
    println!("Machine: {}. The load generator runs in the same process, on the same CPUs.", machine());
    println!(
        "Setup: {} keep-alive HTTP/1.1 connections, {} s warm-up, {} s per phase; fresh SQLite database \
         (WAL, synchronous=FULL), group commit; every 202 is answered after its commit.",
        cli.connections, cli.warmup, cli.seconds
    );
    println!();
    println!("| Phase | Offered | Accepted | Accepted/s | p50 | p90 | p99 | p99.9 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    row("Throughput (closed loop)", "max", Some(&r.throughput), &through);
    let offered = format!("{}/s", thousands(r.rate.round() as u64));
    row("Fixed rate (open loop), from due time", &offered, Some(&r.fixed), &fixed);
    row("Fixed rate, service time (from actual send)", &offered, None, &service);
    println!();

    let mut ok = true;
    if errors > 0 {
        ok = false;
        println!(
            "Errors: {errors} requests not accepted; first: {}",
            r.warmup
                .first_error
                .as_deref()
                .or(r.throughput.first_error.as_deref())
                .or(r.fixed.first_error.as_deref())
                .unwrap_or("?")
        );
    } else {
        println!("Errors: none (every request answered 202).");
    }
    if rows == accepted {
        println!(
            "Durability: {} rows in `messages` after shutdown = {} 202 answers ({} of them during warm-up).",
            thousands(rows),
            thousands(accepted),
            thousands(r.warmup.accepted)
        );
    } else {
        ok = false;
        println!(
            "Durability: MISMATCH: {} rows in `messages`, but {} 202 answers.",
            thousands(rows),
            thousands(accepted)
        );
    }
    let met = |yes: bool| if yes { "met" } else { "missed" };
    println!(
        "Targets: >= 10,000 accepted/s: {} ({}/s); p99 <= 10 ms at {}/s: {} ({}).",
        met(r.throughput.rate() >= TARGET_RATE),
        thousands(r.throughput.rate().round() as u64),
        thousands(r.rate.round() as u64),
        met(fixed.p99 <= TARGET_P99_US),
        ms(fixed.p99)
    );
    ok
}

/// CPU count, model and memory, from /proc on Linux.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown memory".into(), |kb| format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0));
    format!("{cpus} CPUs ({model}), {mem_gib}")
}
