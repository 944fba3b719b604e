//! API keys: stored by hash, listed, counted and revoked.

use wagate_store::NewApiKey;

use crate::{TestDb, ms, secs, t0, tenant};

wagate_store::on_both_backends!(keys_are_found_by_hash_and_revoked_by_prefix, a_hash_is_stored_once);

fn key(id: &str, prefix: &str, hash_digit: char) -> NewApiKey {
    NewApiKey {
        id: id.to_owned(),
        tenant: tenant(),
        name: format!("{id} key"),
        prefix: prefix.to_owned(),
        hash: hash_digit.to_string().repeat(64),
        role: "admin".to_owned(),
    }
}

async fn keys_are_found_by_hash_and_revoked_by_prefix(db: &TestDb) {
    assert_eq!(db.store.count_api_keys().await.unwrap(), 0);
    let ci = key("k1", "wg_ci", 'a');
    let ops = NewApiKey { role: "viewer".to_owned(), ..key("k2", "wg_ops", 'b') };
    db.store.create_api_key(&ci, t0()).await.unwrap();
    db.store.create_api_key(&ops, t0() + secs(1)).await.unwrap();

    let found = db.store.api_key_by_hash(&ci.hash).await.unwrap().expect("found by hash");
    assert_eq!((found.id.as_str(), found.name.as_str(), found.prefix.as_str()), ("k1", "k1 key", "wg_ci"));
    assert_eq!((&found.tenant, found.role.as_str()), (&tenant(), "admin"));
    assert_eq!((found.created_at, found.revoked_at), (ms(t0()), None));
    assert_eq!(db.store.api_key_by_hash(&"f".repeat(64)).await.unwrap(), None);
    let listed = db.store.api_keys(&tenant()).await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["k1", "k2"]);
    assert_eq!(listed[0], found);
    assert_eq!(db.store.count_api_keys().await.unwrap(), 2);

    let revoke_at = t0() + secs(60);
    assert!(db.store.revoke_api_key(&tenant(), "wg_ci", revoke_at).await.unwrap());
    assert!(!db.store.revoke_api_key(&tenant(), "wg_ci", revoke_at + secs(1)).await.unwrap(), "already revoked");
    assert!(!db.store.revoke_api_key(&tenant(), "wg_nope", revoke_at).await.unwrap());

    // A revoked key is still found, so a request with it is told it was revoked.
    let revoked = db.store.api_key_by_hash(&ci.hash).await.unwrap().expect("still found");
    assert_eq!(revoked.revoked_at, Some(ms(revoke_at)));
    assert_eq!(db.store.api_key_by_hash(&ops.hash).await.unwrap().expect("found").revoked_at, None);
    assert!(db.store.revoke_api_key(&tenant(), "k2", revoke_at).await.unwrap(), "revoked by id");
    assert_eq!(db.store.count_api_keys().await.unwrap(), 2, "revoked keys still count");
    assert!(db.store.api_keys(&tenant()).await.unwrap().iter().all(|k| k.revoked_at == Some(ms(revoke_at))));
}

async fn a_hash_is_stored_once(db: &TestDb) {
    db.store.create_api_key(&key("k1", "wg_one", 'c'), t0()).await.unwrap();

    let duplicate = db.store.create_api_key(&key("k2", "wg_two", 'c'), t0()).await;

    assert!(duplicate.is_err(), "two keys with one hash would be ambiguous");
    assert_eq!(db.store.count_api_keys().await.unwrap(), 1);
}
