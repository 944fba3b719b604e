use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use wagate::Config;
use wagate::serve::{default_engine, open_store, serve, shutdown_signal, start};
use wagate_core::auth::Auth;
use wagate_types::TenantId;

/// Self-hosted WhatsApp gateway.
#[derive(Parser)]
#[command(name = "wagate", version, about)]
struct Cli {
    /// Configuration file (default: ./wagate.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: HTTP API, sessions, sending.
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Run the sandbox: an offline WhatsApp network to link sessions to and message
    /// from simulated contacts (builds with `--features sandbox`).
    Sandbox {
        /// Address of its WebSocket and admin API.
        #[arg(long, default_value = "127.0.0.1:7777")]
        bind: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (only this once).
    Create {
        /// What the key is for.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id or prefix; it stops working within seconds.
    Revoke { id_or_prefix: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", wagate_api::openapi().to_pretty_json()?);
        return Ok(());
    }
    if let Command::Sandbox { bind } = cli.command {
        return sandbox(bind).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid log filter")?)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve => run(config).await,
        Command::Migrate => {
            open_store(&config).await?.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::Keys { command } => keys(config, command).await,
        Command::Openapi | Command::Sandbox { .. } => unreachable!("handled above"),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let running = start(&config, store, default_engine()).await?;
    if let Some(key) = &running.new_admin_key {
        println!("\nCreated the admin API key. It is shown only this once; keep it:\n\n    export WAGATE_KEY={key}\n");
    }
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("listen on {}", config.bind))?;
    println!(
        "wagate {} is listening on http://{} (API docs: http://{}/docs)",
        env!("CARGO_PKG_VERSION"),
        config.bind,
        config.bind
    );
    serve(listener, running.gateway, shutdown_signal()).await
}

async fn keys(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let auth = Auth::new(store.clone());
    let tenant = TenantId::default_tenant();
    match command {
        KeysCommand::Create { name } => {
            let created = auth.create(tenant, &name, "admin").await?;
            println!("{}", created.secret);
        }
        KeysCommand::List => {
            println!("{:<38} {:<14} {:<8} {:<22} NAME", "ID", "PREFIX", "ROLE", "STATUS");
            for key in store.api_keys(&tenant).await? {
                let status = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.date()),
                    None => "active".to_owned(),
                };
                println!("{:<38} {:<14} {:<8} {:<22} {}", key.id, key.prefix, key.role, status, key.name);
            }
        }
        KeysCommand::Revoke { id_or_prefix } => {
            if !store.revoke_api_key(&tenant, &id_or_prefix, OffsetDateTime::now_utc()).await? {
                store.close().await;
                anyhow::bail!("no active key with id or prefix '{id_or_prefix}'");
            }
            println!("revoked");
        }
    }
    store.close().await;
    Ok(())
}

#[cfg(feature = "sandbox")]
async fn sandbox(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use wagate_sandbox::{Sandbox, SandboxConfig};
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("WAGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let sandbox = Sandbox::start(SandboxConfig { bind }).await.context("start the sandbox")?;
    println!("wagate sandbox: a WhatsApp network in a box");
    println!("  WebSocket for clients: {}", sandbox.ws_url());
    println!("  admin API:             {}/sandbox  (docs/SANDBOX.md)", sandbox.http_url());
    shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(not(feature = "sandbox"))]
async fn sandbox(_bind: std::net::SocketAddr) -> anyhow::Result<()> {
    anyhow::bail!("this build has no sandbox: build it with `cargo run -p wagate --features sandbox -- sandbox`")
}
