//! The same calls on `InMemoryBackend` (the reference) and on our store give the same
//! answers, area by area.

mod appstate;
mod device;
mod messages;
mod protocol;
mod signal;

use wacore::store::traits::Backend;
use wacore::store::{Device, InMemoryBackend};

use crate::transcript::{Transcript, assert_same};
use crate::{TestDb, linked};

wagate_store::on_both_backends!(
    signal_state_matches_the_reference,
    prekeys_match_the_reference,
    app_state_matches_the_reference,
    protocol_state_matches_the_reference,
    tc_tokens_match_the_reference,
    buffers_match_the_reference,
    message_secrets_match_the_reference,
    the_device_matches_the_reference,
);

async fn signal_state_matches_the_reference(db: &TestDb) {
    compare(db, Area::Signal).await;
}

async fn prekeys_match_the_reference(db: &TestDb) {
    compare(db, Area::Prekeys).await;
}

async fn app_state_matches_the_reference(db: &TestDb) {
    compare(db, Area::AppState).await;
}

async fn protocol_state_matches_the_reference(db: &TestDb) {
    compare(db, Area::Protocol).await;
}

async fn tc_tokens_match_the_reference(db: &TestDb) {
    compare(db, Area::TcTokens).await;
}

async fn buffers_match_the_reference(db: &TestDb) {
    compare(db, Area::Buffers).await;
}

async fn message_secrets_match_the_reference(db: &TestDb) {
    compare(db, Area::MsgSecrets).await;
}

async fn the_device_matches_the_reference(db: &TestDb) {
    compare(db, Area::Device).await;
}

#[derive(Clone, Copy)]
enum Area {
    Signal,
    Prekeys,
    AppState,
    Protocol,
    TcTokens,
    Buffers,
    MsgSecrets,
    Device,
}

async fn compare(db: &TestDb, area: Area) {
    let (_, ours) = linked(&db.store, "main").await;

    // Random keys are made once and given to both.
    let device = device::linked();
    let reference = run(&InMemoryBackend::new(), area, &device).await;
    let ours = run(&ours, area, &device).await;

    assert!(reference.len() >= 8, "the scenario says something: {reference:?}");
    assert_same(&reference, &ours);
}

async fn run(b: &dyn Backend, area: Area, device: &Device) -> Transcript {
    let mut t = Transcript::default();
    match area {
        Area::Signal => signal::signal(b, &mut t).await,
        Area::Prekeys => signal::prekeys(b, &mut t).await,
        Area::AppState => appstate::app_state(b, &mut t).await,
        Area::Protocol => protocol::protocol(b, &mut t).await,
        Area::TcTokens => messages::tc_tokens(b, &mut t).await,
        Area::Buffers => messages::buffers(b, &mut t).await,
        Area::MsgSecrets => messages::msg_secrets(b, &mut t).await,
        Area::Device => device::device(b, &mut t, device).await,
    }
    t
}
