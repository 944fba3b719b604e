//! Sessions: creating, naming, settings, connection state and deleting.

use wagate_store::{AcceptOutcome, SessionSettings, SessionState, StoreError};
use wagate_types::{SessionId, SessionStatus};

use crate::{TestDb, accept, keyed, ms, name, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    created_session_reads_back,
    duplicate_name_is_a_conflict,
    sessions_are_listed_by_name,
    settings_update_round_trips,
    state_update_keeps_what_is_not_reported,
    delete_removes_messages_and_idempotency_keys,
);

async fn created_session_reads_back(db: &TestDb) {
    let settings = SessionSettings { throttle_min_ms: 1_000, throttle_max_ms: 2_500, ..SessionSettings::default() };

    let created = db.store.create_session(&tenant(), &name("sales"), &settings, t0()).await.unwrap();

    assert_eq!(created.tenant, tenant());
    assert_eq!(created.name, name("sales"));
    assert_eq!(created.status, SessionStatus::Starting);
    assert_eq!(created.settings, settings);
    assert_eq!((created.phone.as_deref(), created.push_name.as_deref(), created.last_seen_at), (None, None, None));
    assert_eq!(created.created_at, ms(t0()));
    assert_eq!(created.updated_at, ms(t0()));
    assert_eq!(db.store.session(&tenant(), &name("sales")).await.unwrap(), Some(created.clone()));
    assert_eq!(db.store.session_by_id(created.id).await.unwrap(), Some(created));
    assert_eq!(db.store.session(&tenant(), &name("support")).await.unwrap(), None);
    assert_eq!(db.store.session_by_id(SessionId::new()).await.unwrap(), None);
}

async fn duplicate_name_is_a_conflict(db: &TestDb) {
    let first = new_session(&db.store, "sales").await;

    let again = db.store.create_session(&tenant(), &name("sales"), &SessionSettings::default(), t0() + secs(1)).await;

    assert!(matches!(again, Err(StoreError::Conflict(_))), "expected Conflict, got {again:?}");
    assert_eq!(db.store.sessions(&tenant()).await.unwrap(), vec![first]);
}

async fn sessions_are_listed_by_name(db: &TestDb) {
    for n in ["gamma", "alpha", "beta-2", "beta"] {
        new_session(&db.store, n).await;
    }

    let listed = db.store.sessions(&tenant()).await.unwrap();
    let all = db.store.all_sessions().await.unwrap();

    let names = |list: &[wagate_store::SessionRecord]| list.iter().map(|s| s.name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&listed), ["alpha", "beta", "beta-2", "gamma"]);
    assert_eq!(names(&all), ["alpha", "beta", "beta-2", "gamma"]);
}

async fn settings_update_round_trips(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let settings = SessionSettings {
        throttle_min_ms: 0,
        throttle_max_ms: 250,
        images: Some(wagate_store::ImageSettings { max_side: 640, jpeg_quality: 60, reencode: true }),
        check_numbers: true,
        cap_per_minute: Some(5),
        cap_per_hour: None,
        cap_per_day: Some(200),
        quiet_hours: Some(wagate_store::QuietHours {
            start: "22:00".into(),
            end: "08:00".into(),
            time_zone: "Asia/Beirut".into(),
        }),
        warmup: vec![20, 40, 80],
        opt_in: wagate_store::OptInSettings {
            mode: wagate_types::OptInMode::Required,
            prompt: Some("Reply YES for news".into()),
            on_yes: None,
            on_no: Some("Bye".into()),
        },
        auto_reply: wagate_store::AutoReplySettings {
            rules: vec![wagate_store::AutoReplyRule {
                matching: wagate_types::TextMatch::StartsWith,
                pattern: "price".into(),
                reply: "See example.com".into(),
                priority: 3,
            }],
            default_reply: Some("Soon".into()),
            cooldown_seconds: 600,
            active_hours: None,
            groups: true,
        },
        recipient_spacing_seconds: Some(60),
        lanes: wagate_store::Lanes {
            low: wagate_store::LaneCaps { per_minute: None, per_hour: Some(100), per_day: None },
            ..wagate_store::Lanes::default()
        },
        simulate_typing: true,
    };

    let updated = db.store.update_session_settings(session.id, &settings, t0() + secs(60)).await.unwrap();

    let updated = updated.expect("session exists");
    assert_eq!(updated.settings, settings);
    assert_eq!(updated.updated_at, ms(t0() + secs(60)));
    assert_eq!(updated.created_at, session.created_at);
    assert_eq!(db.store.session_by_id(session.id).await.unwrap(), Some(updated));
    let missing = db.store.update_session_settings(SessionId::new(), &settings, t0()).await.unwrap();
    assert_eq!(missing, None);
}

async fn state_update_keeps_what_is_not_reported(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let connected = SessionState {
        status: SessionStatus::Connected,
        reason: None,
        phone: Some("+15550000009".to_owned()),
        push_name: Some("Sales desk".to_owned()),
        last_seen_at: Some(t0() + secs(5)),
    };
    db.store.set_session_state(session.id, &connected, t0() + secs(5)).await.unwrap();

    let lost = SessionState {
        status: SessionStatus::Reconnecting,
        reason: Some("connection reset".to_owned()),
        phone: None,
        push_name: None,
        last_seen_at: None,
    };
    db.store.set_session_state(session.id, &lost, t0() + secs(9)).await.unwrap();

    let read = db.store.session_by_id(session.id).await.unwrap().expect("session exists");
    assert_eq!(read.status, SessionStatus::Reconnecting);
    assert_eq!(read.status_reason.as_deref(), Some("connection reset"));
    assert_eq!(read.phone.as_deref(), Some("+15550000009"));
    assert_eq!(read.push_name.as_deref(), Some("Sales desk"));
    assert_eq!(read.last_seen_at, Some(ms(t0() + secs(5))));
    assert_eq!(read.updated_at, ms(t0() + secs(9)));

    // The reason is not kept: a reconnected session has none.
    let back = SessionState { status: SessionStatus::Connected, reason: None, ..lost };
    db.store.set_session_state(session.id, &back, t0() + secs(12)).await.unwrap();
    let read = db.store.session_by_id(session.id).await.unwrap().expect("session exists");
    assert_eq!((read.status, read.status_reason), (SessionStatus::Connected, None));
    assert_eq!(read.phone.as_deref(), Some("+15550000009"));
}

async fn delete_removes_messages_and_idempotency_keys(db: &TestDb) {
    let doomed = new_session(&db.store, "sales").await;
    let kept = new_session(&db.store, "support").await;
    let keyed_msg = accept(&db.store, keyed(text(&doomed, t0()), "order-7", "hash-a")).await;
    let plain_msg = accept(&db.store, text(&doomed, t0())).await;
    let other_msg = accept(&db.store, text(&kept, t0())).await;

    assert!(db.store.delete_session(doomed.id).await.unwrap());

    assert_eq!(db.store.session_by_id(doomed.id).await.unwrap(), None);
    assert_eq!(db.store.message(&tenant(), keyed_msg.id).await.unwrap(), None);
    assert_eq!(db.store.message(&tenant(), plain_msg.id).await.unwrap(), None);
    assert_eq!(db.store.message(&tenant(), other_msg.id).await.unwrap(), Some(other_msg));
    assert!(!db.store.delete_session(doomed.id).await.unwrap(), "a second delete finds nothing");
    // The name and the idempotency key are free again: a different request with the
    // same key is a new message, not a reused key.
    let reborn = new_session(&db.store, "sales").await;
    let outcomes = db.store.accept_messages(&[keyed(text(&reborn, t0()), "order-7", "hash-b")]).await.unwrap();
    assert!(matches!(&outcomes[..], [AcceptOutcome::Created(_)]), "got {outcomes:?}");
}
