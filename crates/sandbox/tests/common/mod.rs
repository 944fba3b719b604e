//! Helpers for tests that drive real whatsapp-rust clients against the sandbox.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wacore::store::InMemoryBackend;
use wagate_sandbox::{Sandbox, SandboxConfig, SandboxHandle, SandboxHttpClient};
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::Event;

/// Generous: pairing takes a fraction of a second, but a loaded CI machine is slow.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub async fn start_sandbox() -> SandboxHandle {
    init_tracing();
    Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap() }).await.expect("sandbox starts")
}

/// Every event a client emitted, in order, for waiting on and for checking afterwards.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
    pub seen: Vec<Arc<Event>>,
}

impl Events {
    /// Waits until `pick` accepts an event; panics after [`EVENT_TIMEOUT`].
    pub async fn wait_for<T>(&mut self, what: &str, pick: impl Fn(&Event) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {EVENT_TIMEOUT:?}; saw {:?}", self.kinds()))
                .expect("client event stream ended");
            self.seen.push(event.clone());
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    }

    /// Takes in whatever the client emitted so far, without waiting.
    pub fn collect_pending(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event);
        }
    }

    pub fn saw(&self, pick: impl Fn(&Event) -> bool) -> bool {
        self.seen.iter().any(|e| pick(e))
    }

    fn kinds(&self) -> Vec<String> {
        self.seen.iter().map(|e| format!("{:?}", e.kind())).collect()
    }
}

/// Starts a real whatsapp-rust client against the sandbox on `backend`.
pub async fn start_client(sandbox: &SandboxHandle, backend: Arc<InMemoryBackend>) -> (BotHandle, Events) {
    start_client_with(sandbox, backend, None).await
}

/// Like [`start_client`]; with `pair_code_phone` (digits) the client asks for a
/// pairing code for that number instead of relying on a QR scan.
pub async fn start_client_with(
    sandbox: &SandboxHandle,
    backend: Arc<InMemoryBackend>,
    pair_code_phone: Option<&str>,
) -> (BotHandle, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut builder = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(sandbox.ws_url()))
        .with_http_client(SandboxHttpClient::new(sandbox.http_url()))
        // A fixed version: the client would otherwise fetch it from web.whatsapp.com.
        .with_version((2, 3000, 0))
        .on_event(move |event, _client| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        });
    if let Some(phone) = pair_code_phone {
        builder = builder.with_pair_code(PairCodeOptions { phone_number: phone.to_owned(), ..Default::default() });
    }
    let bot = builder.build().await.expect("bot builds");
    (bot.spawn(), Events { rx, seen: Vec::new() })
}

/// A client paired with `phone` (which must exist) and connected.
pub struct PairedClient {
    pub bot: BotHandle,
    pub events: Events,
    pub backend: Arc<InMemoryBackend>,
}

pub async fn pair_client(sandbox: &SandboxHandle, phone: &str) -> PairedClient {
    let backend = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = start_client(sandbox, backend.clone()).await;
    let qr = events
        .wait_for("QR code", |e| match e {
            Event::PairingQrCode(q) => Some(q.code.clone()),
            _ => None,
        })
        .await;
    sandbox.scan_qr(phone, &qr).await.expect("phone scans the QR code");
    events.wait_for("connected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    PairedClient { bot, events, backend }
}

/// Waits until the simulated contact `phone` has received what `done` looks for;
/// returns everything it received. Panics after [`EVENT_TIMEOUT`].
pub async fn wait_for_inbox(
    sandbox: &SandboxHandle,
    phone: &str,
    what: &str,
    done: impl Fn(&[wagate_sandbox::ReceivedMessage]) -> bool,
) -> Vec<wagate_sandbox::ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let inbox = sandbox.contact_messages(phone).expect("contact exists");
        if done(&inbox) {
            return inbox;
        }
        assert!(tokio::time::Instant::now() < deadline, "{phone} never received {what}; got {inbox:?}");
        // The inbox has no change notification; a short poll keeps the wait cheap.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Posts each of `bodies` to `url` and checks that each is refused with a 422
/// problem+json, as bad admin requests must be.
pub async fn assert_refused(url: &str, bodies: &[serde_json::Value]) {
    let http = reqwest::Client::new();
    for bad in bodies {
        let answer = http.post(url).json(bad).send().await.unwrap();
        assert_eq!(answer.status(), 422, "{bad}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json", "{bad}");
    }
}
