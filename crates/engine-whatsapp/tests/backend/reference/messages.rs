//! Trusted-contact tokens, the sent-message and pending-inbound buffers, message secrets.

use wacore::store::traits::{Backend, MsgSecretEntry, PendingInboundKey, PendingInboundRow, TcTokenEntry};

use crate::transcript::{Transcript, sorted, step};

fn token(bytes: &[u8], token_timestamp: i64, sender_timestamp: Option<i64>) -> TcTokenEntry {
    TcTokenEntry { token: bytes.to_vec(), token_timestamp, sender_timestamp }
}

pub(super) async fn tc_tokens(b: &dyn Backend, t: &mut Transcript) {
    let (j1, j2, j3) = ("100000000000001@lid", "100000000000002@lid", "100000000000003@lid");
    step!(t, b.get_tc_token(j1));
    step!(t, b.put_tc_token(j1, &token(&[1, 2], 100, None)));
    step!(t, b.get_tc_token(j1));
    step!(t, b.touch_tc_token_sender_timestamp(j1, 50));
    step!(t, b.touch_tc_token_sender_timestamp(j1, 40));
    step!(t, b.get_tc_token(j1));
    step!(t, b.touch_tc_token_sender_timestamp(j2, 70));
    step!(t, b.get_tc_token(j2));
    // A placeholder never blocks the first real token, even an older one.
    step!(t, b.store_received_tc_token(j2, &[9], 60));
    step!(t, b.get_tc_token(j2));
    // Newer wins: an older token does not replace a real one; an equal one does.
    step!(t, b.store_received_tc_token(j1, &[3], 90));
    step!(t, b.get_tc_token(j1));
    step!(t, b.store_received_tc_token(j1, &[4], 100));
    step!(t, b.get_tc_token(j1));
    step!(t, b.store_received_tc_token(j3, &[5], 10));
    step!(t, b.get_tc_token(j3));
    t.record("jids", sorted(b.get_all_tc_token_jids().await.unwrap()));
    step!(t, b.delete_expired_tc_tokens(95, 60));
    step!(t, b.put_tc_token(j3, &token(&[], 10, Some(5))));
    step!(t, b.delete_expired_tc_tokens(95, 60));
    t.record("jids", sorted(b.get_all_tc_token_jids().await.unwrap()));
    step!(t, b.delete_tc_token(j2));
    step!(t, b.delete_tc_token(j2));
    step!(t, b.get_tc_token(j2));
    step!(t, b.delete_expired_tc_tokens(200, 200));
    t.record("jids", sorted(b.get_all_tc_token_jids().await.unwrap()));
}

pub(super) async fn buffers(b: &dyn Backend, t: &mut Transcript) {
    let later = wacore::time::now_secs() + 3_600;
    let chat = "weird|chat%@g.us";
    step!(t, b.take_sent_message(chat, "3EB0A1"));
    step!(t, b.store_sent_message(chat, "3EB0A1", b"first"));
    step!(t, b.store_sent_message(chat, "3EB0A2", b"second"));
    step!(t, b.store_sent_message(chat, "3EB0A1", b"first, again"));
    step!(t, b.store_sent_message("weird", "chat%@g.us|3EB0A1", b"not the same key"));
    step!(t, b.take_sent_message(chat, "3EB0A1"));
    step!(t, b.take_sent_message(chat, "3EB0A1"));
    step!(t, b.delete_expired_sent_messages(0));
    step!(t, b.delete_expired_sent_messages(later));
    step!(t, b.take_sent_message(chat, "3EB0A2"));

    let (sender, other) = ("15550000001:2@s.whatsapp.net", "15550000002@s.whatsapp.net");
    step!(t, b.get_pending_inbound(chat, sender, "M1"));
    step!(t, b.store_pending_inbound(chat, sender, "M1", b"decrypted one"));
    step!(t, b.get_pending_inbound(chat, sender, "M1"));
    step!(t, b.get_pending_inbound(chat, other, "M1"));
    step!(
        t,
        b.store_pending_inbound_batch(&[
            PendingInboundRow { chat, sender: other, id: "M1", message: b"other sender, same id" },
            PendingInboundRow { chat, sender, id: "M2", message: b"two" },
            PendingInboundRow { chat, sender, id: "M3", message: b"three" },
        ])
    );
    step!(t, b.get_pending_inbound(chat, other, "M1"));
    step!(t, b.get_pending_inbound(chat, sender, "M2"));
    step!(
        t,
        b.delete_pending_inbound_batch(&[
            PendingInboundKey { chat, sender, id: "M2" },
            PendingInboundKey { chat, sender, id: "unknown" },
        ])
    );
    step!(t, b.delete_pending_inbound(chat, sender, "M1"));
    step!(t, b.get_pending_inbound(chat, sender, "M1"));
    step!(t, b.get_pending_inbound(chat, sender, "M2"));
    step!(t, b.delete_expired_pending_inbound(0));
    step!(t, b.delete_expired_pending_inbound(later));
    step!(t, b.get_pending_inbound(chat, sender, "M3"));
}

fn secret(chat: &str, msg_id: &str, fill: u8, expires_at: i64, message_ts: i64) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: chat.into(),
        sender: "15550000001@s.whatsapp.net".into(),
        msg_id: msg_id.into(),
        secret: [fill; 32],
        expires_at,
        message_ts,
    }
}

pub(super) async fn msg_secrets(b: &dyn Backend, t: &mut Transcript) {
    let (me, c1, c2) = ("15550000001@s.whatsapp.net", "120363001@g.us", "120363002@g.us");
    step!(t, b.get_msg_secret(c1, me, "M1"));
    step!(t, b.put_msg_secret(c1, me, "M1", &[1; 32]));
    step!(t, b.get_msg_secret_with_ts(c1, me, "M1"));
    step!(t, b.get_msg_secret(c1, "someone@s.whatsapp.net", "M1"));
    step!(
        t,
        b.put_msg_secrets(vec![
            secret(c1, "M1", 2, 100, 50),
            secret(c2, "M2", 3, 0, 0),
            secret(c2, "M2", 4, 200, 70),
            secret(c2, "M3", 5, 100, 10),
        ])
    );
    step!(t, b.get_msg_secret_with_ts(c1, me, "M1"));
    step!(t, b.get_msg_secret_with_ts(c2, me, "M2"));
    step!(t, b.put_msg_secrets(vec![secret(c2, "M3", 6, 150, 0)]));
    step!(t, b.get_msg_secret_with_ts(c2, me, "M3"));
    step!(t, b.put_msg_secrets(vec![secret(c2, "M4", 7, 120, 5)]));
    step!(t, b.put_msg_secrets(vec![]));
    step!(t, b.delete_expired_msg_secrets(119));
    step!(t, b.delete_expired_msg_secrets(120));
    step!(t, b.get_msg_secret(c2, me, "M4"));
    step!(t, b.delete_expired_msg_secrets(150));
    step!(t, b.get_msg_secret(c2, me, "M3"));
    step!(t, b.delete_expired_msg_secrets(i64::MAX));
    step!(t, b.get_msg_secret_with_ts(c1, me, "M1"));
    step!(t, b.get_msg_secret_with_ts(c2, me, "M2"));
}
