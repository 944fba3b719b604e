//! What a sequence of storage calls answered, to compare two backends step by step.

use std::fmt::{self, Debug};

use wacore::appstate::hash::HashState;
use wacore::store::Device;

#[derive(Default, PartialEq, Eq)]
pub struct Transcript(Vec<String>);

impl Transcript {
    pub fn record(&mut self, step: &str, answer: impl Debug) {
        self.0.push(format!("{step} => {answer:?}"));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// Panics at the first step where `ours` answered differently from `reference`.
pub fn assert_same(reference: &Transcript, ours: &Transcript) {
    for (n, (want, got)) in reference.0.iter().zip(&ours.0).enumerate() {
        assert_eq!(got, want, "step {n} differs from the reference");
    }
    assert_eq!(ours.0.len(), reference.0.len(), "not as many steps as the reference");
}

/// Records one call and what it answered: `step!(t, backend.load_identity("a"))`.
macro_rules! step {
    ($t:expr, $call:expr) => {
        $t.record(stringify!($call), $call.await)
    };
}
pub(crate) use step;

/// Items whose order is unspecified (the reference keeps them in hash maps), sorted.
pub fn sorted<T: Debug>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().map(|item| format!("{item:?}")).collect();
    items.sort();
    items
}

/// A `HashState` with its map in a fixed order.
pub fn hash_state(state: &HashState) -> impl Debug + use<> {
    (state.version, state.hash.to_vec(), sorted(&state.index_value_map), state.mac_mismatch_fatal)
}

/// A `Device` (which has no `Debug`): its stored fields and the props it would register with.
pub fn device(device: &Device) -> impl Debug + use<> {
    let fields = serde_json::to_string(device).expect("device serialises");
    (fields, waproto::codec::device_props_to_vec(&device.device_props))
}
