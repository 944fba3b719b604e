//! Identities, sessions, sender keys, prekeys, signed prekeys.

use std::sync::Arc;

use bytes::Bytes;
use wacore::store::traits::Backend;

use crate::transcript::{Transcript, sorted, step};

const ALICE: &str = "15550000001@s.whatsapp.net";
const ALICE_2: &str = "15550000001:2@s.whatsapp.net";
const BOB_LID: &str = "100000012345678:3@lid";
const ODD: &str = "odd|address%7C";

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

pub(super) async fn signal(b: &dyn Backend, t: &mut Transcript) {
    step!(t, b.load_identity(ALICE));
    step!(t, b.put_identity(ALICE, [1; 32]));
    step!(t, b.load_identity(ALICE));
    step!(t, b.put_identities_batch(&[(arc(ALICE), [2; 32]), (arc(BOB_LID), [3; 32]), (arc(ALICE), [4; 32])]));
    step!(t, b.load_identity(ALICE));
    step!(t, b.load_identity(BOB_LID));
    step!(t, b.delete_identity(BOB_LID));
    step!(t, b.delete_identity("nobody@s.whatsapp.net"));
    step!(t, b.load_identity(BOB_LID));

    step!(t, b.get_session(ALICE_2));
    step!(t, b.has_session(ALICE_2));
    step!(t, b.put_session(ALICE_2, b"session one"));
    step!(t, b.put_sessions_batch(&[(arc(ALICE_2), Bytes::from_static(b"two")), (arc(BOB_LID), Bytes::new())]));
    step!(t, b.put_session(ODD, b"odd"));
    step!(t, b.get_session(ALICE_2));
    step!(t, b.get_session(BOB_LID));
    step!(t, b.get_session(ODD));
    step!(t, b.has_session(BOB_LID));
    step!(t, b.has_signal_state_for_user("15550000001"));
    step!(t, b.has_signal_state_for_user("1555000000"));
    step!(t, b.has_signal_state_for_user("100000012345678"));
    step!(t, b.delete_session(BOB_LID));
    step!(t, b.has_session(BOB_LID));
    step!(t, b.has_signal_state_for_user("100000012345678"));
    step!(t, b.delete_session(ALICE_2));
    step!(t, b.has_signal_state_for_user("15550000001"));

    step!(t, b.get_sender_key("120363@g.us:15550000001:0"));
    step!(t, b.put_sender_key("120363@g.us:15550000001:0", b"key one"));
    step!(
        t,
        b.put_sender_keys_batch(&[
            (arc("120363@g.us:15550000001:0"), Bytes::from_static(b"key two")),
            (arc("120363@g.us:100000012345678:0"), Bytes::from_static(b"bob's")),
        ])
    );
    step!(t, b.get_sender_key("120363@g.us:15550000001:0"));
    step!(t, b.get_sender_key("120363@g.us:100000012345678:0"));
    step!(t, b.delete_sender_key("120363@g.us:15550000001:0"));
    step!(t, b.get_sender_key("120363@g.us:15550000001:0"));
}

pub(super) async fn prekeys(b: &dyn Backend, t: &mut Transcript) {
    let record = |n: u8| Bytes::from(vec![n; 40]);
    step!(t, b.get_max_prekey_id());
    step!(t, b.store_prekey(1, &record(1), false));
    step!(t, b.store_prekeys_batch(&[(2, record(2)), (3, record(3)), (1000, record(4))], false));
    step!(t, b.load_prekey(1));
    step!(t, b.load_prekey(4));
    step!(t, b.load_prekeys_batch(&[3, 4, 1, 1000, 2]));
    step!(t, b.load_prekeys_batch(&[]));
    step!(t, b.get_max_prekey_id());
    step!(t, b.remove_prekey(1000));
    // Consumed before the upload finished: marking it must not bring it back.
    step!(t, b.mark_prekeys_uploaded(&[1000, 2]));
    step!(t, b.load_prekey(1000));
    step!(t, b.load_prekey(2));
    step!(t, b.get_max_prekey_id());
    step!(t, b.store_prekey(2, &record(9), true));
    step!(t, b.load_prekey(2));
    step!(t, b.store_prekey(u32::MAX, &record(5), true));
    step!(t, b.get_max_prekey_id());
    step!(t, b.remove_prekey(u32::MAX));
    step!(t, b.remove_prekey(77));
    step!(t, b.get_max_prekey_id());

    step!(t, b.load_signed_prekey(1));
    step!(t, b.store_signed_prekey(1, b"signed one"));
    step!(t, b.store_signed_prekey(12, b"signed twelve"));
    step!(t, b.store_signed_prekey(1, b"signed one again"));
    step!(t, b.load_signed_prekey(1));
    t.record("load_all_signed_prekeys", sorted(b.load_all_signed_prekeys().await.unwrap()));
    step!(t, b.remove_signed_prekey(1));
    t.record("load_all_signed_prekeys", sorted(b.load_all_signed_prekeys().await.unwrap()));
}
