//! `wagate serve`: open the database, start the sessions, serve the API until a
//! shutdown signal, then stop in order.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tracing::info;
use wagate_core::Gateway;
use wagate_engine::Engine;
use wagate_engine_whatsapp::{EngineConfig, WhatsAppEngine};
use wagate_store::{Store, redact};

use crate::{Config, http};

/// The engine `wagate serve` runs sessions on: whatsapp-rust, connecting where
/// `engine` says (WhatsApp, or a sandbox), credentials kept in `store`.
pub fn whatsapp_engine(store: &Store, engine: EngineConfig) -> Arc<dyn Engine> {
    Arc::new(WhatsAppEngine::new(store.clone(), engine))
}

/// Opens (and migrates) the configured database, creating the data directory.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
    }
    Store::connect(&url).await.with_context(|| format!("open database {}", redact(&url)))
}

/// A running server's parts, for tests and for `main`.
pub struct Running {
    pub gateway: Arc<Gateway>,
    /// The admin key made on first start, to show once.
    pub new_admin_key: Option<String>,
}

/// Starts the services on `store` with `engine`.
pub async fn start(config: &Config, store: Store, engine: Arc<dyn Engine>) -> anyhow::Result<Running> {
    let gateway = Gateway::start(store, engine, config.gateway()?).await?;
    let configured = config.api_key.as_ref().map(|k| k.expose_secret().to_owned());
    let created = gateway.auth.bootstrap(configured.as_deref()).await?;
    Ok(Running { gateway, new_admin_key: created.map(|c| c.secret) })
}

/// Serves the API on `listener` until `shutdown` completes, then stops the gateway:
/// no new requests, accepted messages stored, sends in flight finished, sessions closed.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    limits: http::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = wagate_api::app(gateway.clone());
    info!(address = %listener.local_addr()?, "wagate is listening");
    http::serve(listener, app, limits, shutdown).await.context("HTTP server failed")?;
    info!("shutting down");
    gateway.shutdown().await;
    info!("stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
