//! Child processes of the load benchmarks: `wagate sandbox` started on a free port, and
//! a process's memory read from /proc.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// Resident memory of a process, from /proc/<pid>/status.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size so far.
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read /proc/<pid>/status")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name} in status"))?;
        let kib = line.trim_start_matches(name).trim().trim_end_matches("kB").trim();
        Ok(kib.parse()?)
    };
    Ok(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// KiB as MiB with one decimal, e.g. `250.7 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A local TCP port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `wagate sandbox --bind 127.0.0.1:<free port>` and waits until its admin API
/// answers. Returns the process and its base URL, `http://127.0.0.1:<port>`.
pub async fn start_sandbox(wagate: &Path) -> anyhow::Result<(Child, String)> {
    let port = free_port()?;
    let mut child = Command::new(wagate)
        .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
        .env("WAGATE_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {} (built with `--features sandbox`?)", wagate.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Some(status) = child.try_wait()? {
            bail!("the sandbox exited at start ({status})");
        }
        if http.get(format!("{base}/sandbox/accounts")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok((child, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the sandbox did not answer on {base} within 10 s")
}
