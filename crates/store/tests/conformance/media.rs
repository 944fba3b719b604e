//! Media rows: stored whole (thumbnail bytes exactly), seen only by their tenant, and
//! stored once however often the same id is put.

use wagate_store::{MediaRecord, StoreError};

use crate::{TestDb, ms, secs, t0, tenant};

wagate_store::on_both_backends!(
    a_media_row_reads_back_whole,
    optional_fields_stay_empty,
    the_same_id_is_stored_once,
    other_tenants_do_not_see_it,
    deleting_removes_the_row,
    an_unknown_tenant_is_refused,
);

fn picture(id: &str) -> MediaRecord {
    MediaRecord {
        id: id.to_owned(),
        tenant: tenant(),
        kind: "image".to_owned(),
        mimetype: "image/jpeg".to_owned(),
        size: 48_213,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        filename: Some("Ölgemälde 1.jpg".to_owned()),
        width: Some(1280),
        height: Some(853),
        seconds: None,
        // Every byte value, so no backend may treat it as text.
        thumbnail: Some((0..=255u8).chain([0, 0, 255]).collect()),
        created_at: t0(),
    }
}

async fn a_media_row_reads_back_whole(db: &TestDb) {
    let media = picture("0190a7b2-0000-7000-8000-000000000001");

    assert!(db.store.insert_media(&media).await.unwrap());

    let read = db.store.media(&tenant(), &media.id).await.unwrap().expect("stored");
    assert_eq!(read, MediaRecord { created_at: ms(t0()), ..media });
}

async fn optional_fields_stay_empty(db: &TestDb) {
    let media = MediaRecord {
        kind: "document".to_owned(),
        mimetype: "application/pdf".to_owned(),
        filename: None,
        width: None,
        height: None,
        seconds: None,
        thumbnail: None,
        ..picture("doc-1")
    };
    db.store.insert_media(&media).await.unwrap();

    let read = db.store.media(&tenant(), "doc-1").await.unwrap().expect("stored");
    assert_eq!((read.filename, read.width, read.height, read.seconds, read.thumbnail), (None, None, None, None, None));

    let voice = MediaRecord { kind: "audio".to_owned(), seconds: Some(u32::MAX), ..picture("voice-1") };
    db.store.insert_media(&voice).await.unwrap();
    let read = db.store.media(&tenant(), "voice-1").await.unwrap().expect("stored");
    assert_eq!(read.seconds, Some(u32::MAX), "the whole u32 range fits");
}

async fn the_same_id_is_stored_once(db: &TestDb) {
    let first = picture("inbound-1");
    assert!(db.store.insert_media(&first).await.unwrap());

    let again = MediaRecord { size: 1, sha256: "00".repeat(32), created_at: t0() + secs(60), ..picture("inbound-1") };
    assert!(!db.store.insert_media(&again).await.unwrap(), "a second insert reports the row already there");

    let read = db.store.media(&tenant(), "inbound-1").await.unwrap().expect("stored");
    assert_eq!((read.size, read.sha256, read.created_at), (first.size, first.sha256, ms(t0())), "the first row stays");
}

async fn other_tenants_do_not_see_it(db: &TestDb) {
    let other = db.add_tenant("acme").await;
    db.store.insert_media(&picture("m-1")).await.unwrap();

    assert_eq!(db.store.media(&other, "m-1").await.unwrap(), None);
    assert!(db.store.media_id_taken("m-1").await.unwrap(), "the id is taken for every tenant");
    assert!(!db.store.media_id_taken("m-2").await.unwrap());
    assert!(!db.store.delete_media(&other, "m-1").await.unwrap(), "nor delete it");
    assert!(db.store.media(&tenant(), "m-1").await.unwrap().is_some());
    assert_eq!(db.store.media(&tenant(), "m-2").await.unwrap(), None);
}

async fn deleting_removes_the_row(db: &TestDb) {
    db.store.insert_media(&picture("m-1")).await.unwrap();

    assert!(db.store.delete_media(&tenant(), "m-1").await.unwrap());

    assert_eq!(db.store.media(&tenant(), "m-1").await.unwrap(), None);
    assert!(!db.store.delete_media(&tenant(), "m-1").await.unwrap());
}

async fn an_unknown_tenant_is_refused(db: &TestDb) {
    let media = MediaRecord { tenant: wagate_types::TenantId::from_stored("nobody".to_owned()), ..picture("m-1") };

    let err = db.store.insert_media(&media).await.unwrap_err();

    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(db.store.media(&tenant(), "m-1").await.unwrap(), None);
}
