//! API keys: `wag_` and 48 hex digits of randomness. Only a SHA-256 hash is stored;
//! keys are random enough that a slow hash would add nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::RngExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;
use wagate_store::{ApiKeyRecord, NewApiKey, Store};
use wagate_types::TenantId;

use crate::Result;

/// How long a key check is remembered. A revoked key stops working within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub key_id: String,
    pub role: String,
}

/// A key just created: the only time its secret exists outside the caller's hands.
#[derive(Debug)]
pub struct CreatedKey {
    pub secret: String,
    pub record: ApiKeyRecord,
}

pub struct Auth {
    store: Store,
    cache: Mutex<HashMap<String, (Option<Caller>, Instant)>>,
}

impl Auth {
    pub fn new(store: Store) -> Self {
        Self { store, cache: Mutex::new(HashMap::new()) }
    }

    /// The caller a key belongs to, or `None` for an unknown or revoked key.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Caller>> {
        let hash = hash_key(key);
        if let Some((caller, at)) = self.lock().get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(caller.clone());
        }
        let record = self.store.api_key_by_hash(&hash).await.context("look up API key")?;
        let caller =
            record.filter(|r| r.revoked_at.is_none()).map(|r| Caller { tenant: r.tenant, key_id: r.id, role: r.role });
        let mut cache = self.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }

    /// On an empty database, makes the first admin key: `configured` if given (from
    /// `WAGATE_API_KEY`), else a new one returned so it can be shown once. A configured
    /// key that is not stored yet is added on any start, so changing the variable works.
    pub async fn bootstrap(&self, configured: Option<&str>) -> Result<Option<CreatedKey>> {
        match configured {
            Some(secret) => {
                if self.store.api_key_by_hash(&hash_key(secret)).await.context("look up configured key")?.is_none() {
                    let created = self
                        .insert(TenantId::default_tenant(), "from WAGATE_API_KEY", "admin", secret.to_owned())
                        .await?;
                    tracing::info!(key = %created.record.prefix, "stored the admin key from WAGATE_API_KEY");
                }
                Ok(None)
            }
            None if self.store.count_api_keys().await.context("count API keys")? == 0 => {
                Ok(Some(self.create(TenantId::default_tenant(), "admin", "admin").await?))
            }
            None => Ok(None),
        }
    }

    /// Makes a new random key.
    pub async fn create(&self, tenant: TenantId, name: &str, role: &str) -> Result<CreatedKey> {
        self.insert(tenant, name, role, generate_key()).await
    }

    async fn insert(&self, tenant: TenantId, name: &str, role: &str, secret: String) -> Result<CreatedKey> {
        let new = NewApiKey {
            id: Uuid::now_v7().to_string(),
            tenant,
            name: name.to_owned(),
            prefix: secret.chars().take(12).collect(),
            hash: hash_key(&secret),
            role: role.to_owned(),
        };
        let now = OffsetDateTime::now_utc();
        self.store.create_api_key(&new, now).await.context("store API key")?;
        let record = ApiKeyRecord {
            id: new.id,
            tenant: new.tenant,
            name: new.name,
            prefix: new.prefix,
            role: new.role,
            created_at: now,
            revoked_at: None,
        };
        Ok(CreatedKey { secret, record })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<Caller>, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn generate_key() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("wag_{}", hex::encode(bytes))
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let key = generate_key();
        assert!(key.starts_with("wag_"));
        assert_eq!(key.len(), 52);
        assert_ne!(key, generate_key());
    }

    #[test]
    fn hashes_are_stable_and_hide_the_key() {
        assert_eq!(hash_key("wag_x"), hash_key("wag_x"));
        assert!(!hash_key("wag_secret").contains("secret"));
    }
}
