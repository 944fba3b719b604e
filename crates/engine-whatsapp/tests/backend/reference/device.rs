//! The device: created, saved, loaded.

use std::sync::Arc;

use wacore::store::traits::Backend;
use wacore::store::{CachedNoiseCert, CachedServerCertChain, Device};

use crate::transcript::{Transcript, device as view, step};

pub(super) fn linked() -> Device {
    let mut linked = Device::new();
    linked.pn = Some("15550000001:7@s.whatsapp.net".parse().unwrap());
    linked.lid = Some("100000012345678:7@lid".parse().unwrap());
    linked.push_name = "Support desk".to_owned();
    linked.account = Some(Arc::new(waproto::whatsapp::ADVSignedDeviceIdentity {
        details: Some(vec![1, 2, 3]),
        account_signature_key: Some(vec![4; 32]),
        account_signature: Some(vec![5; 64]),
        device_signature: Some(vec![6; 64]),
    }));
    linked.next_pre_key_id = 813;
    linked.server_has_prekeys = true;
    linked.nct_salt = Some(vec![8; 16]);
    linked.login_counter = 4;
    linked.server_cert_chain = Some(CachedServerCertChain {
        intermediate: CachedNoiseCert { key: [1; 32], not_before: 10, not_after: 20 },
        leaf: CachedNoiseCert { key: [2; 32], not_before: 11, not_after: 19 },
    });
    linked
}

pub(super) async fn device(b: &dyn Backend, t: &mut Transcript, linked: &Device) {
    step!(t, b.exists());
    t.record("load", b.load().await.unwrap().as_ref().map(view));
    step!(t, b.create());
    step!(t, b.exists());
    // A fresh device has random keys: only whether there is one compares.
    t.record("load after create", b.load().await.unwrap().is_some());
    step!(t, b.save(linked));
    t.record("load", b.load().await.unwrap().as_ref().map(view));
    // Creating again keeps the linked device (the id it answers is not compared: the
    // reference counts calls, a wagate session has one device).
    b.create().await.unwrap();
    t.record("load after create", b.load().await.unwrap().as_ref().map(view));
    let renamed = Device { push_name: "Renamed".to_owned(), ..linked.clone() };
    step!(t, b.save(&renamed));
    t.record("load", b.load().await.unwrap().as_ref().map(view));
}
