//! Receipts across stops of the server process, on the real engine: a receipt is
//! committed before WhatsApp hears it arrived, so whatever moment the process stops
//! (SIGTERM or SIGKILL), the receipt is either stored or delivered again afterwards.

use std::time::Duration;

use rand::RngExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use wagate_sandbox::{AutoReceipts, Fault, NewContact, Sandbox, SandboxConfig, SandboxHandle};
use wagate_store::testing::TestDatabase;

use super::{KEY, Server, launch_on, wait_for};

const SHOP: &str = "+4915110000081";
const BOB: &str = "+4915110000082";
const RUNS: usize = 10;

/// A server process on the real engine with a session linked to the sandbox.
struct Gateway {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
    database: TestDatabase,
    server: Option<Server>,
    client: reqwest::Client,
}

impl Gateway {
    async fn linked(bob_reads_after_ms: Option<u64>) -> Self {
        let sandbox = Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap() }).await.unwrap();
        sandbox.create_account(SHOP, "Shop").unwrap();
        let bob = NewContact {
            auto_receipts: AutoReceipts { delivered_ms: 0, read_ms: bob_reads_after_ms },
            ..NewContact::new(BOB, "Bob")
        };
        sandbox.create_contact(bob).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::from_env().await;
        let server = launch_on(dir.path(), &database.url, Some(&sandbox.http_url())).await;
        let gateway = Self { sandbox, dir, database, server: Some(server), client: reqwest::Client::new() };
        let created = gateway.post("/api/v1/sessions", json!({ "name": "shop" })).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let qr = wait_for(&gateway.client, &gateway.url("/api/v1/sessions/shop/qr"), |q| q["qr"].is_string()).await;
        gateway.sandbox.scan_qr(SHOP, qr["qr"].as_str().unwrap()).await.unwrap();
        gateway.wait_connected().await;
        gateway
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.as_ref().expect("a server runs").base)
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).header("X-API-Key", KEY).json(&body).send().await.unwrap()
    }

    async fn wait_connected(&self) -> Value {
        wait_for(&self.client, &self.url("/api/v1/sessions/shop"), |s| s["status"] == "connected").await
    }

    async fn send(&self, text: &str) -> Value {
        let response = self.post("/api/v1/messages", json!({ "session": "shop", "to": BOB, "text": text })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json().await.unwrap()
    }

    async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        wait_for(&self.client, &self.url(&format!("/api/v1/messages/{id}")), |m| m["status"] == status).await
    }

    /// The session's device in the sandbox.
    fn device(&self) -> String {
        let account = self.sandbox.account(SHOP).unwrap();
        account.devices.iter().find(|d| d.id != 0).expect("a linked device").jid.clone()
    }

    fn kill_9(&mut self) {
        self.server.take().expect("a server runs").kill_9();
    }

    async fn restart(&mut self) {
        let server = launch_on(self.dir.path(), &self.database.url, Some(&self.sandbox.http_url())).await;
        self.server = Some(server);
        self.wait_connected().await;
    }

    /// Another writer holds the database (SQLite) or the message's row (Postgres) until
    /// the returned connection is closed.
    async fn hold_the_message(&self, id: &str) -> sqlx::AnyConnection {
        let mut conn = sqlx::AnyConnection::connect(&self.database.url).await.unwrap();
        if self.database.url.starts_with("sqlite:") {
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
        } else {
            sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("SELECT id FROM messages WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        }
        conn
    }

    /// The message's status as stored, read while no server runs.
    async fn stored_status(&self, id: &str) -> String {
        let mut conn = sqlx::AnyConnection::connect(&self.database.url).await.unwrap();
        let row = sqlx::query("SELECT status FROM messages WHERE id = $1").bind(id).fetch_one(&mut conn).await.unwrap();
        row.get("status")
    }
}

/// A message at the contact whose server ack and receipts never reached the session
/// before a kill -9: it was left `sending`, is queued again at the restart, and the
/// receipts WhatsApp delivers again (before or after the resend) take it to `read`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_at_the_contact_when_the_server_was_killed_ends_read() {
    sqlx::any::install_default_drivers();
    let mut gateway = Gateway::linked(Some(0)).await;
    for run in 0..RUNS {
        // The server holds the ack of the next message for a minute, and Bob's receipts
        // for it wait in the sandbox until the session's device logs in again.
        let device = gateway.device();
        gateway.sandbox.inject_fault(&device, Fault::LateAcks { ms: 60_000 }).await.unwrap();
        gateway.sandbox.inject_fault(&device, Fault::HoldReceipts).await.unwrap();
        let accepted = gateway.send(&format!("Parcel {run} is on its way")).await;
        let (id, wa_id) = (accepted["id"].as_str().unwrap(), accepted["wa_id"].as_str().unwrap());
        for _ in 0..3000 {
            let at_bob = gateway.sandbox.contact_messages(BOB).unwrap().iter().any(|m| m.id == wa_id);
            if at_bob && gateway.sandbox.pending_stanzas(&device).unwrap() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gateway.kill_9();
        assert_eq!(gateway.stored_status(id).await, "sending", "run {run}: killed while the message was sending");

        gateway.restart().await;
        let read = gateway.wait_for_status(id, "read").await;
        assert!(read["delivered_at"].is_string() && read["read_at"].is_string(), "run {run}: {read}");
        let copies = gateway.sandbox.contact_messages(BOB).unwrap().iter().filter(|m| m.id == wa_id).count();
        assert_eq!(copies, 1, "run {run}: Bob has the message once");
    }
    gateway.kill_9();
}

/// Bob reads a message while the server stops gracefully: a send in flight (its ack
/// held back by the server) keeps the stop waiting, and the read receipt arrives then,
/// after the session's event task has ended but before its connection closes. After the
/// restart the message is `read`, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_receipt_arriving_during_a_graceful_stop_is_recorded() {
    sqlx::any::install_default_drivers();
    let mut gateway = Gateway::linked(None).await;
    let chat = format!("{}@s.whatsapp.net", SHOP.trim_start_matches('+'));
    for run in 0..RUNS {
        let accepted = gateway.send(&format!("Your table for {run} is booked")).await;
        let (id, wa_id) = (accepted["id"].as_str().unwrap().to_owned(), accepted["wa_id"].as_str().unwrap().to_owned());
        gateway.wait_for_status(&id, "delivered").await;

        let device = gateway.device();
        gateway.sandbox.inject_fault(&device, Fault::LateAcks { ms: 3_000 }).await.unwrap();
        let in_flight = gateway.send(&format!("See you at {run}")).await;
        let in_flight = in_flight["wa_id"].as_str().unwrap().to_owned();
        for _ in 0..3000 {
            if gateway.sandbox.contact_messages(BOB).unwrap().iter().any(|m| m.id == in_flight) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let server = gateway.server.take().expect("a server runs");
        let stopping = tokio::task::spawn_blocking(move || server.terminate());
        tokio::time::sleep(Duration::from_millis(300)).await;
        gateway.sandbox.contact_read(BOB, &chat, std::slice::from_ref(&wa_id)).await.unwrap();
        stopping.await.unwrap();

        gateway.restart().await;
        let read = gateway.wait_for_status(&id, "read").await;
        assert!(read["read_at"].is_string(), "run {run}: {read}");
    }
    gateway.kill_9();
}

/// Bob reads a message while the database is busy with another writer, so the receipt
/// cannot be stored at once, and the server is killed meanwhile: the receipt was not
/// acknowledged, WhatsApp delivers it again after the restart, and the message is `read`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_receipt_arriving_just_before_a_kill_9_is_recorded_after_the_restart() {
    sqlx::any::install_default_drivers();
    let mut gateway = Gateway::linked(None).await;
    let chat = format!("{}@s.whatsapp.net", SHOP.trim_start_matches('+'));
    for run in 0..RUNS {
        let accepted = gateway.send(&format!("Your parcel {run} is at the door")).await;
        let (id, wa_id) = (accepted["id"].as_str().unwrap().to_owned(), accepted["wa_id"].as_str().unwrap().to_owned());
        gateway.wait_for_status(&id, "delivered").await;

        let lock = gateway.hold_the_message(&id).await;
        gateway.sandbox.contact_read(BOB, &chat, std::slice::from_ref(&wa_id)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(200..400))).await;
        gateway.kill_9();
        lock.close().await.unwrap();

        gateway.restart().await;
        let read = gateway.wait_for_status(&id, "read").await;
        assert!(read["read_at"].is_string(), "run {run}: {read}");
    }
    gateway.kill_9();
}
