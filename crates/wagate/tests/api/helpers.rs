use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wagate::Config;
use wagate::serve::{serve, start};
use wagate_core::Gateway;
use wagate_engine::{Engine, FakeEngine};
use wagate_store::Store;
use wagate_store::testing::TestDatabase;
use wagate_types::PhoneNumber;

pub const KEY: &str = "wag_test_admin_key_0123456789";

/// Makes the engine a server runs on, again for each restart.
pub type MakeEngine = Arc<dyn Fn(&Store) -> Arc<dyn Engine> + Send + Sync>;

pub struct TestApp {
    pub base: String,
    /// The fake WhatsApp of [`spawn_app`]; idle when the app runs on another engine.
    pub engine: FakeEngine,
    make_engine: MakeEngine,
    pub gateway: Arc<Gateway>,
    pub database_url: String,
    config: Config,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: TempDir,
    // Last, so the server has let go of the database when it is dropped.
    _database: TestDatabase,
}

/// A server with a fresh database, sessions that send without throttling and retry fast.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let engine = FakeEngine::new();
    let fake = engine.clone();
    spawn_app_on(engine, Arc::new(move |_: &Store| Arc::new(fake.clone()) as Arc<dyn Engine>), adjust).await
}

/// A server like [`spawn_app_with`]'s on the engine `make_engine` makes.
pub async fn spawn_app_on(engine: FakeEngine, make_engine: MakeEngine, adjust: impl FnOnce(&mut Config)) -> TestApp {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::from_env().await;
    let database_url = database.url.clone();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database_url),
        api_key: Some(SecretString::from(KEY)),
        ..Config::default()
    };
    config.throttle.min_delay_ms = 0;
    config.throttle.max_delay_ms = 0;
    config.delivery.retry_base_ms = 20;
    config.delivery.retry_max_ms = 100;
    adjust(&mut config);
    let database_url = config.database_url();
    let (gateway, base, shutdown, server) = boot(&config, &make_engine).await;
    TestApp {
        base,
        engine,
        make_engine,
        gateway,
        database_url,
        config,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
        server: Some(server),
        _dir: dir,
        _database: database,
    }
}

async fn boot(
    config: &Config,
    make_engine: &MakeEngine,
) -> (Arc<Gateway>, String, oneshot::Sender<()>, JoinHandle<()>) {
    let store = Store::connect(&config.database_url()).await.expect("database");
    let engine = make_engine(&store);
    let running = start(config, store, engine).await.expect("gateway starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let gateway = running.gateway.clone();
    let limits = config.http_limits();
    let server = tokio::spawn(async move {
        serve(listener, gateway, limits, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (running.gateway, base, tx, server)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the admin key.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).header("X-API-Key", KEY)
    }

    pub fn anonymous(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path).json(&body).send().await.expect("request")
    }

    pub async fn create_session(&self, name: &str) -> Value {
        let response = self.post("/api/v1/sessions", json!({ "name": name })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create session {name}");
        response.json().await.unwrap()
    }

    /// Creates a session and links it, waiting until it is connected.
    pub async fn connected_session(&self, name: &str) -> Value {
        self.create_session(name).await;
        self.engine.scan(name, &phone("+4915123456789")).await;
        self.wait_for_session(name, "connected").await
    }

    pub async fn wait_for_session(&self, name: &str, status: &str) -> Value {
        let path = format!("/api/v1/sessions/{name}");
        eventually(&format!("session {name} is {status}"), || async {
            let session: Value = self.get(&path).await.json().await.unwrap();
            (session["status"] == status).then_some(session)
        })
        .await
    }

    pub async fn send_text(&self, session: &str, to: &str, text: &str) -> Value {
        let response = self.post("/api/v1/messages", json!({ "session": session, "to": to, "text": text })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json().await.unwrap()
    }

    pub async fn message(&self, id: &str) -> Value {
        let response = self.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn wait_for_message(&self, id: &str, status: &str) -> Value {
        eventually(&format!("message {id} is {status}"), || async {
            let message = self.message(id).await;
            (message["status"] == status).then_some(message)
        })
        .await
    }

    /// Row counts and last changes of every table, to show a request changed nothing.
    pub async fn snapshot(&self) -> Vec<(String, i64, Option<i64>)> {
        let mut conn = sqlx::AnyConnection::connect(&self.database_url).await.expect("connect");
        let mut out = Vec::new();
        for (table, changed) in [
            ("sessions", "MAX(updated_at)"),
            ("messages", "MAX(updated_at)"),
            ("idempotency_keys", "MAX(created_at)"),
            ("api_keys", "MAX(created_at)"),
            ("contacts", "MAX(last_seen_at)"),
            ("opt_ins", "MAX(changed_at)"),
            ("opt_in_changes", "MAX(at)"),
            ("suppressions", "MAX(created_at)"),
            ("campaigns", "MAX(updated_at)"),
            ("campaign_recipients", "MAX(position)"),
            ("webhooks", "MAX(updated_at)"),
        ] {
            let row =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n, {changed} AS changed FROM {table}")))
                    .fetch_one(&mut conn)
                    .await
                    .expect("snapshot query");
            out.push((table.to_owned(), row.get::<i64, _>("n"), row.get::<Option<i64>, _>("changed")));
        }
        out
    }

    /// Stops the server as SIGTERM would, and starts a new one on the same database
    /// and the same (fake or sandbox) WhatsApp.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server stops cleanly");
        }
        let (gateway, base, shutdown, server) = boot(&self.config, &self.make_engine).await;
        self.gateway = gateway;
        self.base = base;
        self.shutdown = Some(shutdown);
        self.server = Some(server);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn phone(text: &str) -> PhoneNumber {
    PhoneNumber::parse(text, None).expect("valid phone")
}

/// Polls until `check` gives a value, for up to ten seconds.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    within(Duration::from_secs(10), what, check).await
}

/// Polls until `check` gives a value; panics after `limit`.
pub async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts a problem+json answer with this status and code.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["code"], code, "problem code in {body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(), "{body}");
    body
}
