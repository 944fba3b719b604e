//! Engine state: opaque per-session bytes under (kind, key), batches in one transaction,
//! atomic takes, sweeps by stamp, read-modify-write transactions.

use std::collections::HashMap;

use wagate_store::{EngineWrite, StoreError};
use wagate_types::SessionId;

use crate::{TestDb, new_session, tenant};

wagate_store::on_both_backends!(
    values_round_trip_per_session_and_kind,
    keys_list_in_byte_order_and_by_prefix,
    a_batch_applies_in_order,
    large_batches_and_lookups_are_chunked,
    a_failed_batch_changes_nothing,
    a_value_is_taken_once,
    stamped_rows_are_swept_below_the_cutoff,
    clear_forgets_one_session,
    a_cleared_handle_writes_nothing_back,
    deleting_a_session_deletes_its_engine_state,
    unknown_sessions_and_other_tenants_are_refused,
    an_unfinished_transaction_changes_nothing,
    read_modify_write_loses_no_update,
);

fn put(kind: &str, key: &str, value: &[u8]) -> EngineWrite {
    EngineWrite::put(kind, key, value.to_vec())
}

async fn values_round_trip_per_session_and_kind(db: &TestDb) {
    let a = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    let b = db.store.engine_state(&tenant(), new_session(&db.store, "b").await.id);
    let every_byte: Vec<u8> = (0..=255).collect();

    a.apply(&[put("session", "15550000001@s.whatsapp.net", &every_byte), put("empty", "", b"")]).await.unwrap();
    b.apply(&[put("session", "15550000001@s.whatsapp.net", b"b's")]).await.unwrap();

    assert_eq!(a.get("session", "15550000001@s.whatsapp.net").await.unwrap(), Some(every_byte));
    assert_eq!(a.get("empty", "").await.unwrap(), Some(vec![]), "an empty value is a value");
    assert_eq!(a.get("identity", "15550000001@s.whatsapp.net").await.unwrap(), None, "kinds are separate");
    assert_eq!(b.get("session", "15550000001@s.whatsapp.net").await.unwrap(), Some(b"b's".to_vec()));

    a.apply(&[put("session", "15550000001@s.whatsapp.net", b"newer")]).await.unwrap();
    let many = a.get_many("session", &["15550000001@s.whatsapp.net", "nobody@s.whatsapp.net"]).await.unwrap();
    assert_eq!(many, HashMap::from([("15550000001@s.whatsapp.net".to_owned(), b"newer".to_vec())]));
    assert_eq!(a.get_many::<&str>("session", &[]).await.unwrap(), HashMap::new());
}

async fn keys_list_in_byte_order_and_by_prefix(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    let keys = ["é|1", "a|y", "b|z", "a", "A", "a}", "ab", "a|x"];
    let writes: Vec<_> = keys.iter().map(|k| put("k", k, k.as_bytes())).collect();
    state.apply(&writes).await.unwrap();
    state.apply(&[put("other", "a|x", b"not listed")]).await.unwrap();

    let all = state.keys("k", None).await.unwrap();
    let under_a = state.list("k", Some("a|")).await.unwrap();
    let under_e = state.keys("k", Some("é")).await.unwrap();

    // Byte order on both backends, whatever the database's collation.
    assert_eq!(all, ["A", "a", "ab", "a|x", "a|y", "a}", "b|z", "é|1"]);
    assert_eq!(under_a, [("a|x".to_owned(), b"a|x".to_vec()), ("a|y".to_owned(), b"a|y".to_vec())]);
    assert_eq!(under_e, ["é|1"]);
    assert_eq!(state.keys("k", Some("")).await.unwrap(), all, "an empty prefix is no prefix");
    assert_eq!(state.keys("k", Some("zz")).await.unwrap(), Vec::<String>::new());
    assert_eq!(state.list("k", None).await.unwrap().len(), keys.len());
}

async fn a_batch_applies_in_order(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    state
        .apply(&[put("mac", "regular|01", b"1"), put("mac", "regular_low|02", b"2"), put("old", "x", b"x")])
        .await
        .unwrap();

    state
        .apply(&[
            put("k", "a", b"first"),
            put("k", "b", b"b"),
            put("k", "a", b"second"),
            EngineWrite::delete("k", "b"),
            EngineWrite::delete("k", "never-there"),
            put("k", "b", b"again"),
            EngineWrite::delete_prefix("mac", "regular|"),
            EngineWrite::delete_kind("old"),
            put("old", "y", b"after the kind was cleared"),
        ])
        .await
        .unwrap();

    assert_eq!(state.get("k", "a").await.unwrap(), Some(b"second".to_vec()));
    assert_eq!(state.get("k", "b").await.unwrap(), Some(b"again".to_vec()));
    assert_eq!(state.keys("mac", None).await.unwrap(), ["regular_low|02"]);
    assert_eq!(state.list("old", None).await.unwrap(), [("y".to_owned(), b"after the kind was cleared".to_vec())]);
    state.apply(&[]).await.unwrap();
}

async fn large_batches_and_lookups_are_chunked(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    let ids: Vec<String> = (0..700).map(|i| format!("{i:010}")).collect();
    let writes: Vec<_> = ids.iter().map(|id| put("prekey", id, id.as_bytes())).collect();

    state.apply(&writes).await.unwrap();
    let found = state.get_many("prekey", &ids).await.unwrap();
    let deletes: Vec<_> = ids[..600].iter().map(|id| EngineWrite::delete("prekey", id.clone())).collect();
    state.apply(&deletes).await.unwrap();

    assert_eq!(found.len(), 700);
    assert!(ids.iter().all(|id| found[id] == id.as_bytes()));
    assert_eq!(state.keys("prekey", None).await.unwrap(), &ids[600..]);
}

async fn a_failed_batch_changes_nothing(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    state.apply(&[put("k", "kept", b"kept"), put("other", "o", b"o")]).await.unwrap();
    refuse_key(db, "boom").await;

    let failed = state
        .apply(&[
            put("k", "new", b"new"),
            EngineWrite::delete("k", "kept"),
            EngineWrite::delete_kind("other"),
            put("k", "boom", b"refused by the database"),
        ])
        .await;

    assert!(failed.is_err(), "the last write fails");
    assert_eq!(state.get("k", "new").await.unwrap(), None);
    assert_eq!(state.get("k", "kept").await.unwrap(), Some(b"kept".to_vec()));
    assert_eq!(state.get("other", "o").await.unwrap(), Some(b"o".to_vec()));
}

/// Makes the database refuse any engine_state row with this key, to fail a batch midway.
async fn refuse_key(db: &TestDb, key: &str) {
    let pool = db.raw().await;
    let sql = if db.url.starts_with("sqlite:") {
        format!(
            "CREATE TRIGGER refuse_key BEFORE INSERT ON engine_state WHEN NEW.key = '{key}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    } else {
        format!(
            "CREATE FUNCTION refuse_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.key = '{key}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_key BEFORE INSERT ON engine_state FOR EACH ROW EXECUTE FUNCTION refuse_key();"
        )
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("install trigger");
    pool.close().await;
}

async fn a_value_is_taken_once(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    state.apply(&[put("sent", "chat|3EB0", b"payload")]).await.unwrap();

    let takers: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { state.take("sent", "chat|3EB0").await })
        })
        .collect();
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap().unwrap());
    }

    assert_eq!(taken, [b"payload".to_vec()], "exactly one taker gets it");
    assert_eq!(state.get("sent", "chat|3EB0").await.unwrap(), None);
    assert_eq!(state.take("sent", "chat|3EB0").await.unwrap(), None);
}

async fn stamped_rows_are_swept_below_the_cutoff(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    state
        .apply(&[
            EngineWrite::put_stamped("sent", "old", b"o".to_vec(), 10),
            EngineWrite::put_stamped("sent", "edge", b"e".to_vec(), 20),
            put("sent", "unstamped", b"u"),
            EngineWrite::put_stamped("secret", "other kind", b"s".to_vec(), 1),
        ])
        .await
        .unwrap();

    let swept = state.delete_stamped_before("sent", 20).await.unwrap();
    // A put without a stamp clears the one it replaces.
    state.apply(&[put("sent", "edge", b"e2")]).await.unwrap();
    let swept_again = state.delete_stamped_before("sent", i64::MAX).await.unwrap();

    assert_eq!((swept, swept_again), (1, 0));
    assert_eq!(state.keys("sent", None).await.unwrap(), ["edge", "unstamped"]);
    assert_eq!(state.keys("secret", None).await.unwrap(), ["other kind"]);
}

async fn clear_forgets_one_session(db: &TestDb) {
    let a = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    let b = db.store.engine_state(&tenant(), new_session(&db.store, "b").await.id);
    a.apply(&[put("device", "self", b"a"), put("session", "x", b"a")]).await.unwrap();
    b.apply(&[put("device", "self", b"b")]).await.unwrap();

    assert_eq!(a.clear().await.unwrap(), 2);

    assert_eq!(a.keys("device", None).await.unwrap(), Vec::<String>::new());
    assert_eq!(a.keys("session", None).await.unwrap(), Vec::<String>::new());
    assert_eq!(b.get("device", "self").await.unwrap(), Some(b"b".to_vec()));
    assert_eq!(a.clear().await.unwrap(), 0);
}

async fn deleting_a_session_deletes_its_engine_state(db: &TestDb) {
    let doomed = new_session(&db.store, "a").await;
    let kept = db.store.engine_state(&tenant(), new_session(&db.store, "b").await.id);
    db.store.engine_state(&tenant(), doomed.id).apply(&[put("device", "self", b"a")]).await.unwrap();
    kept.apply(&[put("device", "self", b"b")]).await.unwrap();

    assert!(db.store.delete_session(doomed.id).await.unwrap());

    let pool = db.raw().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM engine_state WHERE session_id = $1")
        .bind(doomed.id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(left, 0);
    assert_eq!(kept.get("device", "self").await.unwrap(), Some(b"b".to_vec()));
}

async fn unknown_sessions_and_other_tenants_are_refused(db: &TestDb) {
    let session = new_session(&db.store, "a").await;
    db.store.engine_state(&tenant(), session.id).apply(&[put("device", "self", b"mine")]).await.unwrap();
    let acme = db.add_tenant("acme").await;
    let unknown = db.store.engine_state(&tenant(), SessionId::new());
    let other_tenant = db.store.engine_state(&acme, session.id);

    let into_unknown = unknown.apply(&[put("device", "self", b"x")]).await;
    let into_other = other_tenant.apply(&[put("device", "self", b"x")]).await;
    let take_other = other_tenant.take("device", "self").await;

    assert!(matches!(into_unknown, Err(StoreError::NotFound(_))), "got {into_unknown:?}");
    assert!(matches!(into_other, Err(StoreError::NotFound(_))), "got {into_other:?}");
    assert!(matches!(take_other, Err(StoreError::NotFound(_))), "got {take_other:?}");
    assert_eq!(other_tenant.get("device", "self").await.unwrap(), None, "another tenant reads nothing");
    assert!(matches!(other_tenant.clear().await, Err(StoreError::NotFound(_))));
    let mine = db.store.engine_state(&tenant(), session.id).get("device", "self").await.unwrap();
    assert_eq!(mine, Some(b"mine".to_vec()));
}

async fn an_unfinished_transaction_changes_nothing(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    state.apply(&[put("k", "kept", b"kept")]).await.unwrap();

    let mut tx = state.begin().await.unwrap();
    tx.apply(&[put("k", "new", b"new"), EngineWrite::delete("k", "kept")]).await.unwrap();
    let seen_inside = (tx.get("k", "new").await.unwrap(), tx.keys("k", None).await.unwrap());
    drop(tx);

    assert_eq!(seen_inside, (Some(b"new".to_vec()), vec!["new".to_owned()]));
    assert_eq!(state.get("k", "new").await.unwrap(), None);
    assert_eq!(state.get("k", "kept").await.unwrap(), Some(b"kept".to_vec()));
}

async fn read_modify_write_loses_no_update(db: &TestDb) {
    let state = db.store.engine_state(&tenant(), new_session(&db.store, "a").await.id);
    const WRITERS: u64 = 16;

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tx = state.begin().await?;
                let count = match tx.get("counter", "n").await? {
                    Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
                    None => 0,
                };
                tokio::task::yield_now().await;
                tx.apply(&[put("counter", "n", &(count + 1).to_be_bytes())]).await?;
                tx.commit().await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }

    let count = state.get("counter", "n").await.unwrap().expect("counter written");
    assert_eq!(u64::from_be_bytes(count.try_into().unwrap()), WRITERS);
}

/// An engine's background work that ends after a logout must not bring the void
/// credentials back; a new start (a new handle) writes as usual.
async fn a_cleared_handle_writes_nothing_back(db: &TestDb) {
    let session = new_session(&db.store, "a").await.id;
    let state = db.store.engine_state(&tenant(), session);
    let late = state.clone();
    state.apply(&[put("device", "me", b"keys")]).await.unwrap();

    assert_eq!(state.clear().await.unwrap(), 1);
    let refused = late.apply(&[put("appstate", "regular", b"v1")]).await;
    assert!(matches!(refused, Err(StoreError::NotFound(_))), "{refused:?}");
    assert!(late.begin().await.is_err());
    assert_eq!(late.keys("appstate", None).await.unwrap(), Vec::<String>::new());

    let fresh = db.store.engine_state(&tenant(), session);
    fresh.apply(&[put("device", "me", b"new keys")]).await.unwrap();
    assert_eq!(fresh.get("device", "me").await.unwrap(), Some(b"new keys".to_vec()));
}
