//! The gateway under test: in this process, on its own tokio runtime and thread, with a
//! fresh SQLite database in a temporary directory. The accept benchmark gives it an
//! engine that cannot connect, so sessions never connect and accepted messages stay
//! queued; the webhook benchmark gives it the FakeEngine, whose contacts write to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, anyhow};
use secrecy::SecretString;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wagate::Config;
use wagate::serve::{open_store, serve, start};
use wagate_engine::Engine;

pub struct Server {
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<anyhow::Result<()>>,
    // Deleted when the bench ends, after the durability check.
    dir: TempDir,
}

impl Server {
    /// Starts the gateway with `engine` and the default configuration changed by
    /// `configure`; returns once it listens on 127.0.0.1 (a free port).
    pub fn start(api_key: &str, engine: Arc<dyn Engine>, configure: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let dir =
            tempfile::Builder::new().prefix("wagate-bench-").tempdir().context("create a temporary data directory")?;
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            api_key: Some(SecretString::from(api_key.to_owned())),
            ..Config::default()
        };
        configure(&mut config);
        let db_path = dir.path().join("wagate.db");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("wagate-server".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("wagate-server")
                .build()
                .context("build the server runtime")?;
            runtime.block_on(async move {
                let store = open_store(&config).await?;
                let running = start(&config, store, engine).await?;
                let listener = TcpListener::bind("127.0.0.1:0").await.context("listen on 127.0.0.1")?;
                let _ = ready_tx.send(listener.local_addr()?);
                serve(listener, running.gateway, config.http_limits(), async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        })?;
        match ready_rx.recv() {
            Ok(addr) => Ok(Self { addr, db_path, stop, thread, dir }),
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e.context("the server did not start")),
                Ok(Ok(())) => Err(anyhow!("the server stopped before listening")),
                Err(_) => Err(anyhow!("the server thread panicked")),
            },
        }
    }

    /// Graceful shutdown: stops taking requests, lets the message writer finish,
    /// closes the database. Returns the directory so the database outlives the server.
    pub fn stop(self) -> anyhow::Result<(TempDir, PathBuf)> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(result) => result.context("the server failed")?,
            Err(_) => return Err(anyhow!("the server thread panicked")),
        }
        Ok((self.dir, self.db_path))
    }
}

/// Rows in the `messages` table, read through a new connection after the server is gone.
pub async fn count_messages(db_path: &Path) -> anyhow::Result<u64> {
    let options = SqliteConnectOptions::new().filename(db_path).create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options).await.context("open the benchmark database")?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(u64::try_from(count)?)
}
