//! The gateway under test as a child process: `wagate serve --sandbox-url …` in a
//! directory of its own, started, read until it listens, and stopped with SIGTERM.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::process::free_port;

/// The gateway process and how to reach it.
pub struct Gateway {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// From spawning the process until it printed that it listens.
    pub listening_after: Duration,
    /// From spawning the process until `GET /api/v1/health` first answered 200.
    pub healthy_after: Duration,
}

/// Runs `wagate serve --sandbox-url …` in `dir` with a clean environment (its SQLite
/// database in `dir/data`), and waits until it prints that it listens. The first start
/// also prints the admin key, returned here. `timeout` bounds the wait (a restart
/// starts every stored session before it listens).
pub async fn start_gateway(
    wagate: &Path,
    dir: &Path,
    sandbox: &str,
    log: &str,
    timeout: Option<Duration>,
) -> anyhow::Result<(Gateway, Option<String>)> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("gateway.log"))
        .context("open the gateway's log file")?;
    let started = Instant::now();
    let mut child = Command::new(wagate)
        .args(["serve", "--sandbox-url", sandbox])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WAGATE_BIND", &addr)
        .env("WAGATE_DATA_DIR", dir.join("data"))
        .env("WAGATE_LOG", log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {} (built with `--features sandbox`?)", wagate.display()))?;
    let pid = child.id().context("the gateway process has no pid")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let timeout = timeout.unwrap_or(Duration::from_secs(30));
    let key = match tokio::time::timeout(timeout, read_until_listening(stdout)).await {
        Ok(Ok(key)) => key,
        Ok(Err(e)) => {
            let status = child.try_wait()?;
            return Err(e.context(format!("the gateway did not start (exit status {status:?})")));
        }
        Err(_) => bail!("the gateway did not listen within {timeout:?}"),
    };
    let listening_after = started.elapsed();
    let base = format!("http://{addr}");
    let healthy_after = healthy(&base, started, timeout).await?;
    let gateway = Gateway { child, pid, base, listening_after, healthy_after };
    Ok((gateway, key))
}

/// Polls the health check until it answers 200; returns the time since `started`.
async fn healthy(base: &str, started: Instant, timeout: Duration) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/health");
    loop {
        if let Ok(answer) = http.get(&url).send().await
            && answer.status().is_success()
        {
            return Ok(started.elapsed());
        }
        ensure!(started.elapsed() < timeout, "the gateway's health check did not answer 200 within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads the gateway's stdout until its "is listening" line, and returns the admin key
/// if it printed one. The rest of its stdout is drained in the background.
async fn read_until_listening(stdout: ChildStdout) -> anyhow::Result<Option<String>> {
    let mut lines = BufReader::new(stdout);
    let mut key = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            bail!("the gateway closed its stdout before listening");
        }
        if let Some(rest) = line.trim().strip_prefix("export WAGATE_KEY=") {
            key = Some(rest.to_owned());
        }
        if line.contains(" is listening on ") {
            break;
        }
    }
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = lines.read_to_end(&mut sink).await;
    });
    Ok(key)
}

/// SIGTERM, then waits for a clean exit. Returns how long the gateway took to stop.
pub async fn stop_gateway(gateway: &mut Gateway) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let sent = std::process::Command::new("kill").args(["-TERM", &gateway.pid.to_string()]).status()?;
    ensure!(sent.success(), "kill -TERM {} failed", gateway.pid);
    let status = tokio::time::timeout(Duration::from_secs(300), gateway.child.wait())
        .await
        .context("the gateway did not stop within 300 s of SIGTERM")??;
    ensure!(status.success(), "the gateway exited with {status} after SIGTERM");
    Ok(started.elapsed())
}
