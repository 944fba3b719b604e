//! A message answered 202 survives `kill -9` of the server at any moment and, after
//! a restart, reaches the recipient exactly once.
//!
//! The server runs as a real child process: this test binary started again with
//! `WAGATE_CRASH_CHILD` set, running only `child_server`. Its FakeEngine appends every
//! send to a file, synced before the send returns, so sends are counted across kills.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use wagate::Config;
use wagate::serve::{serve, start};
use wagate_engine::FakeEngine;
use wagate_store::Store;
use wagate_store::testing::TestDatabase;

const KEY: &str = "wag_crash_test_key_0123456789";
const CHILD_ENV: &str = "WAGATE_CRASH_CHILD";

/// Runs the server when started by the test below; does nothing in a normal run.
#[test]
fn child_server() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = PathBuf::from(dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut config = Config {
            data_dir: dir.clone(),
            database_url: Some(std::env::var("WAGATE_CRASH_DB").unwrap()),
            api_key: Some(SecretString::from(KEY)),
            ..Config::default()
        };
        config.throttle.min_delay_ms = 0;
        config.throttle.max_delay_ms = 0;
        let engine = FakeEngine::new().auto_linked().recording_to(&dir.join("sent.jsonl")).unwrap();
        let store = Store::connect(&config.database_url()).await.unwrap();
        let running = start(&config, store, Arc::new(engine)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port_file = dir.join("port");
        std::fs::write(dir.join("port.tmp"), listener.local_addr().unwrap().port().to_string()).unwrap();
        std::fs::rename(dir.join("port.tmp"), &port_file).unwrap();
        serve(listener, running.gateway, std::future::pending()).await.unwrap();
    });
}

struct Server {
    child: Child,
    base: String,
}

async fn launch(dir: &Path, db: &str) -> Server {
    let _ = std::fs::remove_file(dir.join("port"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("WAGATE_CRASH_DB", db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server process");
    for _ in 0..500 {
        if let Ok(port) = std::fs::read_to_string(dir.join("port")) {
            return Server { child, base: format!("http://127.0.0.1:{port}") };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server process did not start");
}

impl Server {
    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_kill_9_and_are_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::from_env().await;
    let db = database.url.clone();
    let client = reqwest::Client::new();
    // Every message the server answered 202 for: id → WhatsApp id.
    let mut accepted: HashMap<String, String> = HashMap::new();

    for round in 0..4 {
        let server = launch(dir.path(), &db).await;
        if round == 0 {
            let created = client
                .post(format!("{}/api/v1/sessions", server.base))
                .header("X-API-Key", KEY)
                .json(&json!({ "name": "default" }))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), StatusCode::CREATED);
        }
        // Fire a burst of sends and kill the server somewhere in the middle of it:
        // while requests are being accepted and messages are being sent.
        let mut tasks = tokio::task::JoinSet::new();
        let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
        for worker in 0..8 {
            let (client, base, answered) = (client.clone(), server.base.clone(), answered.clone());
            tasks.spawn(async move {
                let mut accepted = Vec::new();
                for i in 0..25 {
                    let response = client
                        .post(format!("{base}/api/v1/messages"))
                        .header("X-API-Key", KEY)
                        .json(&json!({ "to": "+4915123456789", "text": format!("round {round} worker {worker} message {i}") }))
                        .send()
                        .await;
                    let Ok(response) = response else { break };
                    if response.status() != StatusCode::ACCEPTED {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else { break };
                    accepted.push((body["id"].as_str().unwrap().to_owned(), body["wa_id"].as_str().unwrap().to_owned()));
                    let _ = answered.send(());
                }
                accepted
            });
        }
        drop(answered);
        // Kill once a random number of the requests have been answered, plus a random
        // moment more: some requests are in flight, some messages are being sent.
        let (wait_for, extra) = {
            let mut rng = rand::rng();
            (rng.random_range(1..180), rng.random_range(0..5))
        };
        for _ in 0..wait_for {
            if answers.recv().await.is_none() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(extra)).await;
        server.kill_9();
        while let Some(result) = tasks.join_next().await {
            accepted.extend(result.unwrap());
        }
    }
    assert!(!accepted.is_empty(), "some sends were accepted before the kills");

    // A last start: the session reconnects from its stored state and the queue drains.
    let server = launch(dir.path(), &db).await;
    for (id, wa_id) in &accepted {
        let mut status = Value::Null;
        for _ in 0..500 {
            let message: Value = client
                .get(format!("{}/api/v1/messages/{id}", server.base))
                .header("X-API-Key", KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(message["wa_id"], wa_id.as_str(), "the WhatsApp id never changes");
            status = message["status"].clone();
            if status == "sent" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(status, "sent", "accepted message {id} was not sent after the restart");
    }
    server.kill_9();

    let sends = FakeEngine::read_recording(&dir.path().join("sent.jsonl")).unwrap();
    // What the recipient got: one message per WhatsApp id, like WhatsApp delivers it.
    let mut delivered: HashMap<&str, usize> = HashMap::new();
    for send in sends.iter().filter(|s| !s.repeat) {
        *delivered.entry(send.wa_id.as_str()).or_default() += 1;
    }
    for wa_id in accepted.values() {
        assert_eq!(delivered.get(wa_id.as_str()), Some(&1), "accepted message {wa_id} was not delivered exactly once");
    }
    assert!(delivered.values().all(|&n| n == 1), "a WhatsApp id was delivered twice");
    // Each text went out under one WhatsApp id only: a retry never made a new message.
    let mut ids_per_text: HashMap<&str, HashSet<&str>> = HashMap::new();
    for send in &sends {
        ids_per_text.entry(send.text.as_str()).or_default().insert(send.wa_id.as_str());
    }
    for (text, ids) in &ids_per_text {
        assert_eq!(ids.len(), 1, "'{text}' was sent under several WhatsApp ids: {ids:?}");
    }
    // A kill between WhatsApp's acknowledgement and the database write makes the wire
    // carry an id twice; the stored id is what keeps that from reaching the recipient.
    let repeats = sends.iter().filter(|s| s.repeat).count();
    println!(
        "accepted {} messages (answered 202) over 4 kills; {} delivered once each; {repeats} wire repeats of a delivered id",
        accepted.len(),
        delivered.len(),
    );
}
