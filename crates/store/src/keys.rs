use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::TenantId;

use crate::time_ms::{from_ms, opt_from_ms, to_ms};
use crate::{ApiKeyRecord, NewApiKey, Result, Store};

const COLUMNS: &str = "id, tenant_id, name, prefix, role, created_at, revoked_at";

impl Store {
    pub async fn create_api_key(&self, key: &NewApiKey, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(key.tenant.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(&key.role)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The key with this hash, revoked or not.
    pub async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?;
        row.map(|r| key_from_row(&r)).transpose()
    }

    pub async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn count_api_keys(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// Revokes the key with this id or prefix. Returns whether one was revoked now.
    pub async fn revoke_api_key(&self, tenant: &TenantId, id_or_prefix: &str, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND (id = $2 OR prefix = $2) AND revoked_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id_or_prefix)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: row.try_get("role")?,
        created_at: from_ms(row.try_get("created_at")?),
        revoked_at: opt_from_ms(row.try_get("revoked_at")?),
    })
}
