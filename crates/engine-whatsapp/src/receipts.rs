//! Receipts are committed before WhatsApp hears they arrived, as received messages are.
//!
//! whatsapp-rust 0.7.0 acknowledges a `<receipt>` stanza right after it has dispatched
//! the `Receipt` event to the handlers (`process_decrypted_node`: `handle_receipt_inline`,
//! then `maybe_deferred_ack`), and offers no durability hook for receipts as it does for
//! messages. Since the handler runs before the acknowledgement, in a task of its own
//! (a client with a receipt handler does not process receipts on its read loop), the
//! handler itself waits for the commit: on a multi-threaded runtime it blocks its
//! thread (`block_in_place`) until the session's inbox has stored the receipt. A crash
//! before the commit leaves the receipt unacknowledged, and WhatsApp delivers it again.
//!
//! The wait is bounded ([`COMMIT_WAIT`]) so a database that stays down cannot hold
//! the client's tasks forever: after that the receipt is acknowledged and its commit
//! goes on being retried in the background while the session runs, so only a crash
//! during such a fault, longer than the wait, can lose it. On a current-thread runtime
//! (which cannot block) the commit runs in the background from the start.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tracing::{debug, warn};
use wagate_engine::Receipt;

use crate::session::Shared;

/// Longest a receipt's acknowledgement waits for its commit.
const COMMIT_WAIT: Duration = Duration::from_secs(10);

/// Stores `receipt` through the session's inbox, waiting for the commit when the
/// runtime lets this thread block.
pub(crate) fn commit_before_ack(shared: &Arc<Shared>, receipt: Receipt) {
    let Ok(runtime) = Handle::try_current() else { return };
    let commit = commit(Arc::downgrade(shared), receipt);
    if runtime.runtime_flavor() != RuntimeFlavor::MultiThread {
        runtime.spawn(commit);
        return;
    }
    let mut commit = Box::pin(commit);
    let done = tokio::task::block_in_place(|| {
        runtime.block_on(async { tokio::time::timeout(COMMIT_WAIT, &mut commit).await.is_ok() })
    });
    if !done {
        warn!("a receipt is acknowledged before it could be stored; storing it goes on");
        runtime.spawn(commit);
    }
}

/// Commits the receipt, retrying while the database refuses, until it is stored or the
/// session is gone.
async fn commit(shared: Weak<Shared>, receipt: Receipt) {
    let mut delay = Duration::from_millis(100);
    loop {
        let Some(inbox) = shared.upgrade().map(|s| s.inbox.clone()) else { return };
        match inbox.receipt(&receipt).await {
            Ok(()) => return,
            Err(e) => debug!(error = %e, "a receipt was not stored yet; trying again"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
