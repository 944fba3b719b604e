//! App-state sync keys, versions, mutation MACs.

use std::collections::BTreeMap;

use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::traits::{AppStateSyncKey, Backend};

use crate::transcript::{Transcript, hash_state, step};

fn mac(index: u8, value: u8) -> AppStateMutationMAC {
    AppStateMutationMAC { index_mac: vec![index; 32], value_mac: vec![value; 32] }
}

fn sync_key(n: u8) -> AppStateSyncKey {
    AppStateSyncKey { key_data: vec![n; 32], fingerprint: vec![n, n], timestamp: 1_700_000_000 + i64::from(n) }
}

pub(super) async fn app_state(b: &dyn Backend, t: &mut Transcript) {
    step!(t, b.get_sync_key(&[1, 2]));
    step!(t, b.get_latest_sync_key_id());
    step!(t, b.set_sync_key(&[1, 2], sync_key(1)));
    step!(t, b.set_sync_key(&[3], sync_key(2)));
    step!(t, b.get_sync_key(&[1, 2]));
    step!(t, b.get_sync_key(&[3]));
    step!(t, b.get_latest_sync_key_id());
    step!(t, b.set_sync_key(&[1, 2], sync_key(3)));
    step!(t, b.get_sync_key(&[1, 2]));
    step!(t, b.get_latest_sync_key_id());

    t.record("get_version regular", hash_state(&b.get_version("regular").await.unwrap()));
    let state = HashState {
        version: 7,
        hash: [9; 128],
        index_value_map: [("a".to_owned(), vec![1]), ("b".to_owned(), vec![2, 2])].into(),
        mac_mismatch_fatal: true,
    };
    step!(t, b.set_version("regular", state.clone()));
    step!(t, b.set_version("critical_block", HashState { version: 2, ..HashState::default() }));
    t.record("get_version regular", hash_state(&b.get_version("regular").await.unwrap()));
    t.record("get_version critical_block", hash_state(&b.get_version("critical_block").await.unwrap()));
    step!(t, b.set_version("regular", HashState { version: 8, ..state }));
    t.record("get_version regular", hash_state(&b.get_version("regular").await.unwrap()));

    step!(t, b.put_mutation_macs("regular", 7, &[mac(1, 10), mac(2, 20), mac(3, 30)]));
    step!(t, b.put_mutation_macs("regular_low", 1, &[mac(1, 99)]));
    step!(t, b.put_mutation_macs("regular", 8, &[mac(2, 21)]));
    step!(t, b.get_mutation_mac("regular", &[1; 32]));
    step!(t, b.get_mutation_mac("regular", &[2; 32]));
    step!(t, b.get_mutation_mac("regular", &[4; 32]));
    let found = b.get_mutation_macs("regular", &[[1; 32], [4; 32], [3; 32]]).await.unwrap();
    t.record("get_mutation_macs", found.into_iter().collect::<BTreeMap<_, _>>());
    step!(t, b.delete_mutation_macs("regular", &[vec![1; 32], vec![7; 32]]));
    step!(t, b.get_mutation_mac("regular", &[1; 32]));
    step!(t, b.get_mutation_mac("regular", &[3; 32]));
    step!(t, b.clear_mutation_macs("regular"));
    step!(t, b.get_mutation_mac("regular", &[2; 32]));
    step!(t, b.get_mutation_mac("regular_low", &[1; 32]));
}
