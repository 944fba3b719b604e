use std::sync::Arc;

use anyhow::Context;
use wagate_engine::Engine;
use wagate_store::{SessionSettings, Store};
use wagate_types::Country;

use crate::Result;
use crate::accept::Accepter;
use crate::auth::Auth;
use crate::campaigns::Campaigns;
use crate::dispatch::DispatchConfig;
use crate::media::{MediaConfig, MediaStore};
use crate::sessions::Sessions;
use crate::webhooks::{WebhookConfig, Webhooks};

/// Settings the services need, from wagate's configuration.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// The country of phone numbers written without a country code.
    pub default_country: Option<Country>,
    /// Settings of a new session unless its creator says otherwise.
    pub session_defaults: SessionSettings,
    pub dispatch: DispatchConfig,
    /// Where media files go and what may come in.
    pub media: MediaConfig,
    pub webhooks: WebhookConfig,
}

/// All of wagate's services, wired together. The API holds one.
pub struct Gateway {
    pub store: Store,
    pub auth: Auth,
    pub sessions: Sessions,
    pub accepter: Accepter,
    pub media: MediaStore,
    pub campaigns: Campaigns,
    pub webhooks: Arc<Webhooks>,
    pub config: GatewayConfig,
}

impl Gateway {
    /// Starts the services and every stored session.
    pub async fn start(store: Store, engine: Arc<dyn Engine>, config: GatewayConfig) -> Result<Arc<Self>> {
        let media = MediaStore::new(store.clone(), config.media.clone()).context("open the media store")?;
        let sessions = Sessions::new(store.clone(), engine, config.dispatch.clone());
        // Before any session starts: dispatchers read files to send from it, and received
        // media is downloaded into it.
        sessions.attach_media(media.clone());
        let waker = sessions.clone();
        let accepter = Accepter::spawn(store.clone(), Arc::new(move |id| waker.wake(id)));
        let campaigns = Campaigns::spawn(store.clone(), sessions.clone());
        let webhooks = Webhooks::spawn(
            store.clone(),
            config.webhooks.clone(),
            config.dispatch.clock.clone(),
            sessions.event_bus(),
        )
        .context("start the webhook deliverer")?;
        let gateway = Arc::new(Self {
            auth: Auth::new(store.clone()),
            store,
            sessions,
            accepter,
            media,
            campaigns,
            webhooks,
            config,
        });
        // In the background: the API answers while sessions connect.
        gateway.sessions.restore().await.context("restore sessions")?;
        Ok(gateway)
    }

    /// Stops in order: no campaign feeding, no new messages, accepted ones stored, sends in flight finished,
    /// sessions closed, database flushed.
    pub async fn shutdown(&self) {
        self.campaigns.stop().await;
        self.accepter.close().await;
        self.sessions.shutdown().await;
        self.webhooks.stop().await;
        self.store.close().await;
    }
}
