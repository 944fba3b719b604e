//! `wagate sandbox` runs as a process of its own and serves its admin API.
#![cfg(feature = "sandbox")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_sandbox_runs_as_a_process() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(["sandbox", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wagate sandbox");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut admin = None;
    for line in stdout.lines().take(10) {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("admin API:") {
            admin = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let admin = admin.expect("the sandbox prints its admin URL");
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{admin}/accounts"))
        .json(&serde_json::json!({ "phone": "+15550001234", "name": "Alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let accounts: serde_json::Value =
        client.get(format!("{admin}/accounts")).send().await.unwrap().json().await.unwrap();
    assert!(accounts.to_string().contains("15550001234"), "{accounts}");

    // SIGTERM stops it cleanly.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "exits 0 on SIGTERM");
}
