//! The real engine: sessions on whatsapp-rust, linked to an in-process sandbox whose
//! phones scan their QR codes and whose contacts are real whatsapp-rust clients.

mod auto_reply;
mod calls;
mod campaign;
mod chats;
mod faults;
mod group_events;
mod groups;
mod inbound;
mod kinds_in;
pub(crate) mod kinds_out;
mod linking;
mod messaging;
mod number_checks;
mod opt_in;
mod presence;
mod status;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wagate_engine::{Engine, FakeEngine};
use wagate_engine_whatsapp::{EngineConfig, WhatsAppEngine};
use wagate_sandbox::{AutoReceipts, ContactInfo, DeviceInfo, NewContact, Reply, Sandbox, SandboxConfig, SandboxHandle};
use wagate_store::Store;

use crate::helpers::{TestApp, spawn_app_on, within};

/// Linking and everything else take a second or two; generous, so a loaded CI machine
/// does not fail a test that would pass.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Live {
    pub app: TestApp,
    pub sandbox: SandboxHandle,
}

pub async fn spawn_live() -> Live {
    spawn_live_with(|_| {}).await
}

/// A gateway on the real engine against a fresh sandbox; `adjust` tunes the engine.
pub async fn spawn_live_with(adjust: impl FnOnce(&mut EngineConfig)) -> Live {
    let sandbox = Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap() }).await.expect("sandbox starts");
    let mut engine = EngineConfig::sandbox(sandbox.http_url());
    adjust(&mut engine);
    let make =
        Arc::new(move |store: &Store| Arc::new(WhatsAppEngine::new(store.clone(), engine.clone())) as Arc<dyn Engine>);
    let app = spawn_app_on(FakeEngine::new(), make, |_| {}).await;
    Live { app, sandbox }
}

impl Live {
    /// A sandbox number, a session linked to it by QR code, connected.
    pub async fn linked(&self, session: &str, phone: &str, name: &str) -> (Value, DeviceInfo) {
        self.sandbox.create_account(phone, name).expect("sandbox account");
        self.app.create_session(session).await;
        let qr = self.qr(session).await;
        let device = self.sandbox.scan_qr(phone, &qr).await.expect("the phone scans the QR code");
        (self.wait_for_session(session, "connected").await, device)
    }

    /// The QR code the session shows, once it shows one.
    pub async fn qr(&self, session: &str) -> String {
        self.wait_for_session(session, "qr_ready").await;
        let response = self.app.get(&format!("/api/v1/sessions/{session}/qr")).await;
        assert_eq!(response.status(), StatusCode::OK, "GET qr");
        let qr: Value = response.json().await.unwrap();
        qr["qr"].as_str().expect("a QR code").to_owned()
    }

    pub async fn wait_for_session(&self, session: &str, status: &str) -> Value {
        let path = format!("/api/v1/sessions/{session}");
        within(LINK_TIMEOUT, &format!("session {session} is {status}"), || async {
            let found: Value = self.app.get(&path).await.json().await.unwrap();
            (found["status"] == status).then_some(found)
        })
        .await
    }

    pub async fn wait_for_message(&self, id: &str, status: &str) -> Value {
        within(LINK_TIMEOUT, &format!("message {id} is {status}"), || async {
            let message = self.app.message(id).await;
            (message["status"] == status).then_some(message)
        })
        .await
    }

    /// A simulated contact that reads what it gets after `read_ms` and answers texts
    /// containing "order".
    pub async fn contact(&self, phone: &str, name: &str, read_ms: Option<u64>) -> ContactInfo {
        let new = NewContact {
            auto_receipts: AutoReceipts { delivered_ms: 0, read_ms },
            replies: vec![Reply { when_text_contains: "order".into(), reply: "Thanks, got it!".into() }],
            ..NewContact::new(phone, name)
        };
        self.sandbox.create_contact(new).await.expect("sandbox contact")
    }

    pub async fn send_text(&self, session: &str, to: &str, text: &str) -> Value {
        let response = self.app.post("/api/v1/messages", json!({ "session": session, "to": to, "text": text })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "send");
        response.json().await.unwrap()
    }

    /// How many rows of engine state (WhatsApp credentials and keys) are stored.
    pub async fn engine_state_rows(&self) -> i64 {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::AnyConnection::connect(&self.app.database_url).await.expect("connect");
        let row = sqlx::query("SELECT COUNT(*) AS n FROM engine_state").fetch_one(&mut conn).await.expect("count");
        row.get::<i64, _>("n")
    }

    /// Whether the sandbox sees the device connected.
    pub fn online(&self, phone: &str, device: &DeviceInfo) -> bool {
        let account = self.sandbox.account(phone).expect("account");
        account.devices.iter().any(|d| d.jid == device.jid && d.online)
    }
}
