//! Message ids the server already routed. A client that crashed after sending but
//! before it saw the server's ack sends the message again under the same id; WhatsApp
//! acknowledges it again and does not deliver it twice. The sandbox does the same for
//! the most recent ids.

use std::collections::{HashSet, VecDeque};

/// How many routed ids the sandbox remembers, oldest forgotten first.
const REMEMBERED: usize = 100_000;

#[derive(Default)]
pub(crate) struct SeenMessages {
    order: VecDeque<(String, String)>,
    ids: HashSet<(String, String)>,
}

impl SeenMessages {
    /// Records that `sender_user` sent message `id`; false if it had been recorded.
    pub(crate) fn first_time(&mut self, sender_user: &str, id: &str) -> bool {
        let key = (sender_user.to_owned(), id.to_owned());
        if !self.ids.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_per_sender() {
        let mut seen = SeenMessages::default();
        assert!(seen.first_time("15550001", "3EB0A"));
        assert!(!seen.first_time("15550001", "3EB0A"));
        assert!(seen.first_time("15550002", "3EB0A"), "another sender's id is another message");
    }
}
