//! Configuration, in layers: built-in defaults, then `wagate.toml` (or the file given
//! with `--config`), then `WAGATE_*` environment variables, which win. Nested keys use
//! a double underscore: `WAGATE_THROTTLE__MIN_DELAY_MS=0`. Every option is listed in
//! `wagate.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use wagate_core::GatewayConfig;
use wagate_core::clock::Clock;
use wagate_core::dispatch::DispatchConfig;
use wagate_core::media::{AllowList, ImagePolicy, MediaConfig, S3Config};
use wagate_core::pacing::check_quiet_hours;
use wagate_core::webhooks::WebhookConfig;
use wagate_store::QuietHours;
use wagate_store::SessionSettings;
use wagate_types::Country;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub bind: SocketAddr,
    /// Where wagate keeps its files (the SQLite database by default).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; a SQLite file in `data_dir` when unset.
    pub database_url: Option<String>,
    /// The admin API key to create on first start; generated and printed when unset.
    #[serde(serialize_with = "hide")]
    pub api_key: Option<SecretString>,
    /// A file holding `api_key` (for Docker/Kubernetes secrets).
    pub api_key_file: Option<PathBuf>,
    /// ISO country for phone numbers written without a country code, e.g. `LB`.
    pub default_country: Option<String>,
    /// Log filter, e.g. `info` or `wagate_core=debug,info`.
    pub log: String,
    /// Default pause between two sends of a new session.
    pub throttle: Throttle,
    pub delivery: Delivery,
    pub media: Media,
    #[serde(default)]
    pub webhooks: Webhooks,
    /// The HTTP server's limits.
    #[serde(default)]
    pub http: Http,
    /// The dispatchers' clock: the system's, or a test's (not configurable).
    #[serde(skip)]
    pub clock: Clock,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Caps of a new session: at most this many sends in any minute, hour, day.
    #[serde(default)]
    pub per_minute: Option<u32>,
    #[serde(default)]
    pub per_hour: Option<u32>,
    #[serde(default)]
    pub per_day: Option<u32>,
    /// Quiet hours of a new session.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// A new session's least time between two sends to the same recipient.
    #[serde(default)]
    pub recipient_spacing_seconds: Option<u32>,
    /// Whether a new session shows "typing…" as long as typing each text takes.
    #[serde(default)]
    pub simulate_typing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// First retry wait; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry wait.
    pub retry_max_ms: u64,
}

/// Media files: where they are kept and what may come in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// Where media files are kept; `data_dir/media` when unset.
    pub dir: Option<PathBuf>,
    /// The largest media file taken in, in bytes.
    pub max_bytes: u64,
    /// The longest a media URL download may take.
    pub fetch_timeout_ms: u64,
    /// Host names media URLs may point to although they resolve to private addresses.
    pub allow_hosts: Vec<String>,
    /// Networks (CIDR) media URLs may reach although they are private.
    pub allow_networks: Vec<String>,
    /// The longest side of a picture sent as an image, after re-encoding.
    pub image_max_side: u32,
    /// JPEG quality (1–100) of re-encoded pictures.
    pub jpeg_quality: u8,
    /// Re-encode pictures sent as images to JPEG; `false` sends them as given.
    pub reencode_images: bool,
    /// Keep media in S3-compatible storage instead of `dir`.
    pub s3: Option<S3>,
}

/// An S3-compatible bucket for media (AWS S3, MinIO, Cloudflare R2, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "S3::default_region")]
    pub region: String,
    pub access_key: String,
    #[serde(default, serialize_with = "hide")]
    pub secret_key: Option<SecretString>,
    /// A file holding `secret_key`.
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    #[serde(default = "S3::default_path_style")]
    pub path_style: bool,
    /// Put before every media id, e.g. `wagate/`.
    #[serde(default)]
    pub prefix: String,
}

impl S3 {
    fn default_region() -> String {
        "us-east-1".to_owned()
    }

    fn default_path_style() -> bool {
        true
    }

    fn settings(&self) -> anyhow::Result<S3Config> {
        let endpoint = url::Url::parse(&self.endpoint).context("media.s3.endpoint is not a URL")?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            bail!("media.s3.endpoint must be an http(s) URL with a host");
        }
        if self.bucket.trim().is_empty() || self.access_key.trim().is_empty() {
            bail!("media.s3.bucket and media.s3.access_key must not be empty");
        }
        let secret = match (&self.secret_key, &self.secret_key_file) {
            (Some(key), None) => key.expose_secret().to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("read media.s3.secret_key_file {}", path.display()))?
                .trim()
                .to_owned(),
            _ => bail!("give media.s3.secret_key or media.s3.secret_key_file, one of them"),
        };
        Ok(S3Config {
            endpoint,
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            access_key: self.access_key.clone(),
            secret_key: secret,
            path_style: self.path_style,
            prefix: self.prefix.clone(),
        })
    }
}

/// Webhook deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    /// The longest wait for a receiver's answer (and for a URL's host to resolve when
    /// a webhook is created or changed).
    pub timeout_ms: u64,
    /// Host names webhook URLs may point to although they resolve to private addresses.
    pub allow_hosts: Vec<String>,
    /// Networks (CIDR) webhooks may reach although they are private.
    pub allow_networks: Vec<String>,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self { timeout_ms: 10_000, allow_hosts: Vec::new(), allow_networks: Vec::new() }
    }
}

/// How much the HTTP server lets clients take, so slow or abandoned connections cost
/// bounded memory and are closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// The longest a client may take to send a request's line and headers, counted from
    /// when the server starts waiting for them: the connection's start, or the end of the
    /// previous answer on a kept-alive connection (so an idle connection is closed after
    /// this long too).
    pub header_read_timeout_ms: u64,
    /// The longest a connection may make no progress while the server waits on the
    /// client: for more of a request body, or for it to take more of an answer.
    pub idle_timeout_ms: u64,
    /// Connections served at once; more wait, unaccepted, until one closes.
    pub max_connections: usize,
}

impl Default for Http {
    fn default() -> Self {
        let limits = crate::http::Limits::default();
        Self {
            header_read_timeout_ms: limits.header_read_timeout.as_millis() as u64,
            idle_timeout_ms: limits.idle_timeout.as_millis() as u64,
            max_connections: limits.max_connections,
        }
    }
}

impl Default for Media {
    fn default() -> Self {
        let media = MediaConfig::default();
        Self {
            dir: None,
            max_bytes: media.max_bytes,
            fetch_timeout_ms: media.fetch_timeout.as_millis() as u64,
            allow_hosts: Vec::new(),
            allow_networks: Vec::new(),
            image_max_side: media.images.max_side,
            jpeg_quality: media.images.jpeg_quality,
            reencode_images: media.images.reencode,
            s3: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let session = SessionSettings::default();
        let dispatch = DispatchConfig::default();
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            api_key: None,
            api_key_file: None,
            default_country: None,
            log: "info".into(),
            throttle: Throttle {
                min_delay_ms: session.throttle_min_ms,
                max_delay_ms: session.throttle_max_ms,
                per_minute: None,
                per_hour: None,
                per_day: None,
                quiet_hours: None,
                recipient_spacing_seconds: None,
                simulate_typing: false,
            },
            delivery: Delivery {
                max_attempts: dispatch.max_attempts,
                retry_base_ms: dispatch.retry_base.as_millis() as u64,
                retry_max_ms: dispatch.retry_max.as_millis() as u64,
            },
            media: Media::default(),
            webhooks: Webhooks::default(),
            http: Http::default(),
            clock: Clock::system(),
        }
    }
}

/// Top-level options, so `WAGATE_*` variables meant for other tools (or a shell's
/// `WAGATE_KEY`) are not mistaken for misspelt options.
const OPTIONS: [&str; 12] = [
    "bind",
    "data_dir",
    "database_url",
    "api_key",
    "api_key_file",
    "default_country",
    "log",
    "throttle",
    "delivery",
    "media",
    "webhooks",
    "http",
];

fn is_option(key: &str) -> bool {
    let top = key.split("__").next().unwrap_or(key);
    OPTIONS.iter().any(|option| top.eq_ignore_ascii_case(option))
}

fn hide<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    value.as_ref().map(|_| "***").serialize(s)
}

impl Config {
    /// Reads the layers. `file` is `--config`; without it `./wagate.toml` is read if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("wagate.toml")),
        }
        let mut config: Config = figment
            .merge(Env::prefixed("WAGATE_").filter(|key| is_option(key.as_str())).split("__"))
            .extract()
            .context("invalid configuration")?;
        if let Some(path) = &config.api_key_file {
            let key = std::fs::read_to_string(path).with_context(|| format!("read api_key_file {}", path.display()))?;
            config.api_key = Some(SecretString::from(key.trim().to_owned()));
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(key) = &self.api_key
            && key.expose_secret().len() < 16
        {
            bail!("api_key must be at least 16 characters");
        }
        if [self.throttle.per_minute, self.throttle.per_hour, self.throttle.per_day].contains(&Some(0)) {
            bail!("throttle.per_minute, per_hour and per_day must be at least 1 when set");
        }
        if let Some(quiet) = &self.throttle.quiet_hours {
            check_quiet_hours(quiet).map_err(|why| anyhow::anyhow!("throttle.quiet_hours: {why}"))?;
        }
        if self.throttle.recipient_spacing_seconds.is_some_and(|s| !(1..=7 * 24 * 3600).contains(&s)) {
            bail!("throttle.recipient_spacing_seconds must be between 1 and 604800 (a week) when set");
        }
        if self.throttle.min_delay_ms > self.throttle.max_delay_ms {
            bail!("throttle.min_delay_ms must not be larger than throttle.max_delay_ms");
        }
        if self.webhooks.timeout_ms == 0 {
            bail!("webhooks.timeout_ms must be above 0");
        }
        if self.http.header_read_timeout_ms == 0 || self.http.idle_timeout_ms == 0 || self.http.max_connections == 0 {
            bail!("http.header_read_timeout_ms, http.idle_timeout_ms and http.max_connections must be above 0");
        }
        if self.delivery.max_attempts == 0 {
            bail!("delivery.max_attempts must be at least 1");
        }
        if self.media.max_bytes == 0 || self.media.fetch_timeout_ms == 0 || self.media.image_max_side == 0 {
            bail!("media.max_bytes, media.fetch_timeout_ms and media.image_max_side must be above 0");
        }
        if !(1..=100).contains(&self.media.jpeg_quality) {
            bail!("media.jpeg_quality must be between 1 and 100");
        }
        self.country()?;
        self.media()?;
        Ok(())
    }

    pub fn country(&self) -> anyhow::Result<Option<Country>> {
        self.default_country
            .as_deref()
            .map(|c| c.parse::<Country>().map_err(|e| anyhow::anyhow!("default_country: {e}")))
            .transpose()
    }

    /// The database URL, defaulting to `data_dir/wagate.db`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("wagate.db").display()),
        }
    }

    /// Media settings, the directory defaulting to `data_dir/media`.
    pub fn media(&self) -> anyhow::Result<MediaConfig> {
        let media = &self.media;
        Ok(MediaConfig {
            dir: media.dir.clone().unwrap_or_else(|| self.data_dir.join("media")),
            max_bytes: media.max_bytes,
            fetch_timeout: Duration::from_millis(media.fetch_timeout_ms),
            allow: AllowList::parse(&media.allow_hosts, &media.allow_networks).context("media.allow_networks")?,
            images: ImagePolicy {
                max_side: media.image_max_side,
                jpeg_quality: media.jpeg_quality,
                reencode: media.reencode_images,
            },
            s3: media.s3.as_ref().map(S3::settings).transpose()?,
        })
    }

    /// The HTTP server's limits.
    pub fn http_limits(&self) -> crate::http::Limits {
        crate::http::Limits {
            header_read_timeout: Duration::from_millis(self.http.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.http.idle_timeout_ms),
            max_connections: self.http.max_connections,
        }
    }

    pub fn gateway(&self) -> anyhow::Result<GatewayConfig> {
        Ok(GatewayConfig {
            default_country: self.country()?,
            session_defaults: SessionSettings {
                throttle_min_ms: self.throttle.min_delay_ms,
                throttle_max_ms: self.throttle.max_delay_ms,
                cap_per_minute: self.throttle.per_minute,
                cap_per_hour: self.throttle.per_hour,
                cap_per_day: self.throttle.per_day,
                quiet_hours: self.throttle.quiet_hours.clone(),
                recipient_spacing_seconds: self.throttle.recipient_spacing_seconds,
                simulate_typing: self.throttle.simulate_typing,
                ..SessionSettings::default()
            },
            dispatch: DispatchConfig {
                max_attempts: self.delivery.max_attempts,
                retry_base: Duration::from_millis(self.delivery.retry_base_ms),
                retry_max: Duration::from_millis(self.delivery.retry_max_ms),
                clock: self.clock.clone(),
                ..DispatchConfig::default()
            },
            media: self.media()?,
            webhooks: WebhookConfig {
                allow: AllowList::parse(&self.webhooks.allow_hosts, &self.webhooks.allow_networks)
                    .context("webhooks.allow_networks")?,
                timeout: Duration::from_millis(self.webhooks.timeout_ms),
            },
        })
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests;
