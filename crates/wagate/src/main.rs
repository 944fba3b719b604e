use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use wagate::Config;
use wagate::serve::{open_store, serve, shutdown_signal, start, whatsapp_engine};
use wagate_core::auth::Auth;
use wagate_engine_whatsapp::EngineConfig;
use wagate_types::TenantId;

/// mimalloc returns the memory of a burst (many connections, a backlog of messages) to
/// the system once it is freed; glibc's malloc kept most of it (docs/BENCHMARKS.md,
/// slow-clients).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    Serve {
        /// Link sessions to an offline sandbox WhatsApp network started in this process,
        /// instead of WhatsApp (builds with `--features sandbox`).
        #[arg(long)]
        sandbox: bool,
        /// Where the embedded sandbox listens.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7777", requires = "sandbox")]
        sandbox_bind: std::net::SocketAddr,
        /// Link sessions to a sandbox that runs elsewhere (`wagate sandbox`), e.g.
        /// `http://127.0.0.1:7777` (builds with `--features sandbox`).
        #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
        sandbox_url: Option<String>,
    },
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
    wagate::logging::init(&config.log, std::io::stderr)?;
    match cli.command {
        Command::Serve { sandbox: true, sandbox_bind, .. } => run_with_sandbox(config, sandbox_bind).await,
        Command::Serve { sandbox_url: Some(url), .. } => run(config, sandbox_engine(&url)?, None).await,
        Command::Serve { .. } => run(config, EngineConfig::whatsapp(), None).await,
        Command::Migrate => {
            open_store(&config).await?.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::Keys { command } => keys(config, command).await,
        Command::Openapi | Command::Sandbox { .. } => unreachable!("handled above"),
    }
}

/// Serves the gateway; `after_start` is printed once it listens.
async fn run(config: Config, engine: EngineConfig, after_start: Option<String>) -> anyhow::Result<()> {
    // Listening first: a client that comes early waits in the backlog rather than being
    // refused, and sessions are restored behind the running API.
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("listen on {}", config.bind))?;
    let store = open_store(&config).await?;
    let running = start(&config, store.clone(), whatsapp_engine(&store, engine)).await?;
    if let Some(key) = &running.new_admin_key {
        println!("\nCreated the admin API key. It is shown only this once; keep it:\n\n    export WAGATE_KEY={key}\n");
    }
    println!(
        "wagate {} is listening on http://{} (API docs: http://{}/docs)",
        env!("CARGO_PKG_VERSION"),
        config.bind,
        config.bind
    );
    if let Some(text) = after_start {
        println!("{text}");
    }
    serve(listener, running.gateway, config.http_limits(), shutdown_signal()).await
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
    wagate::logging::init(&std::env::var("WAGATE_LOG").unwrap_or_else(|_| "info".into()), std::io::stderr)?;
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
    anyhow::bail!("{NO_SANDBOX}: `cargo run -p wagate --features sandbox -- sandbox`")
}

#[cfg(not(feature = "sandbox"))]
const NO_SANDBOX: &str = "this build has no sandbox; build it with `--features sandbox`";

#[cfg(feature = "sandbox")]
fn sandbox_engine(url: &str) -> anyhow::Result<EngineConfig> {
    Ok(EngineConfig::sandbox(url))
}

#[cfg(not(feature = "sandbox"))]
fn sandbox_engine(_url: &str) -> anyhow::Result<EngineConfig> {
    anyhow::bail!("{NO_SANDBOX}: `cargo run -p wagate --features sandbox -- serve --sandbox-url …`")
}

/// `serve --sandbox`: the gateway, its sessions linked to a sandbox in this process.
#[cfg(feature = "sandbox")]
async fn run_with_sandbox(config: Config, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use wagate_sandbox::{Sandbox, SandboxConfig};
    let sandbox = Sandbox::start(SandboxConfig { bind }).await.context("start the sandbox")?;
    let url = sandbox.http_url();
    let hint = format!(
        "\nSandbox mode: sessions link to an offline WhatsApp network at {url}, not to WhatsApp.\n\
         Its phones scan QR codes and its simulated contacts answer through {url}/sandbox\n\
         (README: \"Try it without a phone\"; docs/SANDBOX.md).\n"
    );
    let served = run(config, EngineConfig::sandbox(url), Some(hint)).await;
    sandbox.shutdown().await;
    served
}

#[cfg(not(feature = "sandbox"))]
async fn run_with_sandbox(_config: Config, _bind: std::net::SocketAddr) -> anyhow::Result<()> {
    anyhow::bail!("{NO_SANDBOX}: `cargo run -p wagate --features sandbox -- serve --sandbox`")
}
