//! `wagate serve` as a process: linking a session, by QR code or by pairing code, leaves
//! neither the code nor any part of the QR code in its log, at the default level and at
//! `debug` (whatsapp-rust logs the pairing code at INFO and the QR code's refs in the
//! protocol nodes it dumps at DEBUG).
#![cfg(feature = "sandbox")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = "wag_log_secrets_admin_key_0123";

#[tokio::test]
async fn linking_by_qr_code_and_by_pairing_code_logs_no_credential_at_the_default_level() {
    let log = link_both_ways(None).await;
    assert!(log.lines.contains("wagate is listening"), "the log was captured:\n{}", log.lines);
    log.assert_clean();
}

#[tokio::test]
async fn linking_by_qr_code_and_by_pairing_code_logs_no_credential_at_debug() {
    let log = link_both_ways(Some("debug")).await;
    // DEBUG lines of whatsapp-rust are there: only the credentials are not.
    assert!(log.lines.contains("DEBUG"), "the log is at debug:\n{}", tail(&log.lines));
    log.assert_clean();
}

struct Captured {
    lines: String,
    pair_code: String,
    qr_codes: Vec<String>,
}

impl Captured {
    fn assert_clean(&self) {
        assert_eq!(self.pair_code.len(), 8, "{}", self.pair_code);
        assert!(!self.lines.contains(&self.pair_code), "the pairing code {} is in the log", self.pair_code);
        assert!(!self.qr_codes.is_empty());
        for qr in &self.qr_codes {
            let parts: Vec<&str> = qr.split(',').collect();
            assert_eq!(parts.len(), 5, "ref, noise key, identity key, secret, client type: {qr}");
            // The last part is the kind of client ("1"), not a credential.
            for part in &parts[..4] {
                assert!(!self.lines.contains(part), "the QR code's part {part} is in the log");
            }
        }
    }
}

/// Runs `wagate serve --sandbox` with `WAGATE_LOG` = `level` (unset: the default),
/// links one session by QR code and one by pairing code, stops it, and returns its log.
async fn link_both_ways(level: Option<&str>) -> Captured {
    let dir = tempfile::tempdir().unwrap();
    let (api, sandbox) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_wagate"));
    command
        .args(["serve", "--sandbox", "--sandbox-bind", &format!("127.0.0.1:{sandbox}")])
        .current_dir(dir.path())
        .env("WAGATE_BIND", format!("127.0.0.1:{api}"))
        .env("WAGATE_DATA_DIR", dir.path())
        .env("WAGATE_API_KEY", KEY)
        .env_remove("WAGATE_LOG")
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(dir.path().join("out.log")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .stdin(Stdio::null());
    if let Some(level) = level {
        command.env("WAGATE_LOG", level);
    }
    let child = command.spawn().expect("start wagate serve --sandbox");
    let mut server = Server { child, base: format!("http://127.0.0.1:{api}"), client: reqwest::Client::new() };
    let admin = format!("http://127.0.0.1:{sandbox}/sandbox");
    server.wait_until_up().await;

    // By QR code.
    server.admin(&format!("{admin}/accounts"), json!({ "phone": "+4915120000001", "name": "Shop" })).await;
    server.post("/api/v1/sessions", json!({ "name": "shop" })).await;
    let first_qr = server.qr("shop").await;
    server.admin(&format!("{admin}/accounts/+4915120000001/scan"), json!({ "qr": first_qr })).await;
    server.wait_for("shop", "connected").await;

    // By pairing code; the session shows a QR code meanwhile, which is a credential too.
    server.admin(&format!("{admin}/accounts"), json!({ "phone": "+4915120000002", "name": "Bakery" })).await;
    server.post("/api/v1/sessions", json!({ "name": "bakery" })).await;
    let second_qr = server.qr("bakery").await;
    let answer = server.post("/api/v1/sessions/bakery/pair-code", json!({ "phone": "+4915120000002" })).await;
    let pair_code = answer["code"].as_str().expect("a pairing code").to_owned();
    server.admin(&format!("{admin}/accounts/+4915120000002/pair-code"), json!({ "code": pair_code })).await;
    server.wait_for("bakery", "connected").await;

    server.stop();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    Captured { lines: read("err.log") + &read("out.log"), pair_code, qr_codes: vec![first_qr, second_qr] }
}

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Server {
    /// SIGTERM, then wait for the process to end.
    fn stop(&mut self) {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        assert!(self.child.wait().unwrap().success(), "wagate stops cleanly");
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.client.get(format!("{}/api/v1/health", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "wagate serve did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response =
            self.client.post(format!("{}{path}", self.base)).header("X-API-Key", KEY).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn admin(&self, url: &str, body: Value) {
        let response = self.client.post(url).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "POST {url}: {}", response.status());
    }

    async fn session(&self, name: &str) -> Value {
        let url = format!("{}/api/v1/sessions/{name}", self.base);
        self.client.get(url).header("X-API-Key", KEY).send().await.unwrap().json().await.unwrap()
    }

    async fn wait_for(&self, name: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.session(name).await["status"] != status {
            assert!(Instant::now() < deadline, "session {name} did not become {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn qr(&self, name: &str) -> String {
        self.wait_for(name, "qr_ready").await;
        let url = format!("{}/api/v1/sessions/{name}/qr", self.base);
        let response = self.client.get(url).header("X-API-Key", KEY).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let qr: Value = response.json().await.unwrap();
        qr["qr"].as_str().expect("a QR code").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tail(text: &str) -> String {
    text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}
