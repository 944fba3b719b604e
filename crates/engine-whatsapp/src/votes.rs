//! Polls' secrets. A voter encrypts their choice with a key derived from the poll's
//! 32-byte secret, which only the poll's messages carry; so the secret of a poll we
//! send is stored (as whatsapp-rust stores outbound secrets: under chat, our own
//! account and the poll's id, in the engine's msg-secret store) before the poll goes
//! out, and votes are opened with it when they come back.

use wacore::msg_secret::{MsgSecretPolicy, MsgSecretRetention, RetentionClass};
use wacore::store::traits::{MsgSecretEntry, MsgSecretStore as _};
use wacore_binary::{Jid, JidExt as _};
use whatsapp_rust::Client;
use whatsapp_rust::PollVoteCiphertext;

use crate::StoredCredentials;
use crate::incoming::Vote;
use crate::refs::Me;

/// The secret of the poll `id` that this account sends to `chat`. A poll sent again
/// under the same id (a retry after a crash or a timeout) gets the secret it had the
/// first time, so votes on whichever copy arrived can be opened.
pub(crate) async fn poll_secret(
    credentials: &StoredCredentials,
    chat: &Jid,
    me: &Jid,
    id: &str,
) -> Result<[u8; 32], String> {
    let (chat, me) = (chat.to_non_ad(), me.to_non_ad());
    let stored = credentials
        .get_msg_secret(&chat.to_string(), &me.to_string(), id)
        .await
        .map_err(|e| format!("could not read the poll's secret: {e}"))?;
    if let Some(secret) = stored.and_then(|s| <[u8; 32]>::try_from(s).ok()) {
        return Ok(secret);
    }
    let secret: [u8; 32] = rand::random();
    let now = wacore::time::now_secs();
    let expires_at = wacore::msg_secret::expires_at(
        MsgSecretPolicy::default(),
        &MsgSecretRetention::default(),
        RetentionClass::PollEvent,
        u64::try_from(now).ok(),
        now,
    );
    let entry = MsgSecretEntry::new(&chat, &me, id, secret, expires_at, now);
    credentials.put_msg_secrets(vec![entry]).await.map_err(|e| format!("could not store the poll's secret: {e}"))?;
    Ok(secret)
}

/// The options a vote chose, as hex SHA-256s of their names.
pub(crate) async fn open(
    client: &Client,
    credentials: &StoredCredentials,
    me: &Me,
    vote: &Vote,
    chat: &Jid,
    voter: &Jid,
) -> Result<Vec<String>, String> {
    let poll_id = vote.poll.wa_id.as_str();
    let creators: Vec<Jid> = match (&vote.creator, vote.poll.sender.is_none()) {
        (_, true) => [&me.pn, &me.lid].into_iter().flatten().cloned().collect(),
        (Some(creator), false) => vec![creator.to_non_ad()],
        (None, false) => return Err("the vote does not say who created the poll".into()),
    };
    let chats: Vec<Jid> = if chat.is_group() {
        vec![chat.to_non_ad()]
    } else {
        // A 1:1 poll is stored under the peer's JID, which the voter may now use in
        // the other addressing (phone number or LID).
        let mut chats = vec![chat.to_non_ad()];
        if let Ok(Some(entry)) = client.get_lid_pn_entry(chat).await {
            let other = if chat.is_lid() { Jid::pn(&*entry.phone_number) } else { Jid::lid(&*entry.lid) };
            chats.push(other);
        }
        chats
    };
    for creator in &creators {
        for chat in &chats {
            let secret = credentials
                .get_msg_secret(&chat.to_string(), &creator.to_string(), poll_id)
                .await
                .map_err(|e| format!("could not read the poll's secret: {e}"))?;
            let Some(secret) = secret else { continue };
            let ciphertext = PollVoteCiphertext { enc_payload: &vote.payload, enc_iv: &vote.iv };
            let hashes = client
                .polls()
                .decrypt_vote(ciphertext, &secret, poll_id, creator, voter)
                .await
                .map_err(|e| format!("the vote on poll {poll_id} does not open: {e}"))?;
            return Ok(hashes.iter().map(hex::encode).collect());
        }
    }
    Err(format!("no secret is known for poll {poll_id}: it was not sent by this session"))
}

#[cfg(test)]
mod tests {
    use wagate_store::SessionSettings;
    use wagate_store::testing::TestStore;
    use wagate_types::{SessionName, TenantId};

    use super::*;

    #[tokio::test]
    async fn a_poll_sent_again_under_its_id_keeps_its_secret() {
        let db = TestStore::sqlite().await;
        let tenant = TenantId::default_tenant();
        let name = SessionName::parse("polls").unwrap();
        let session = db
            .store
            .create_session(&tenant, &name, &SessionSettings::default(), time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let credentials = StoredCredentials::new(&db.store, &tenant, session.id);
        let chat: Jid = "15550002@s.whatsapp.net".parse().unwrap();
        let me: Jid = "15550001:3@s.whatsapp.net".parse().unwrap();

        let first = poll_secret(&credentials, &chat, &me, "3EB0POLL").await.unwrap();
        let again = poll_secret(&credentials, &chat, &me, "3EB0POLL").await.unwrap();
        let other = poll_secret(&credentials, &chat, &me, "3EB0OTHER").await.unwrap();

        assert_eq!(first, again);
        assert_ne!(first, other);
        // Stored where whatsapp-rust looks for an outbound secret: chat, our account
        // without its device, the poll's id.
        let stored =
            credentials.get_msg_secret("15550002@s.whatsapp.net", "15550001@s.whatsapp.net", "3EB0POLL").await.unwrap();
        assert_eq!(stored.as_deref(), Some(&first[..]));
        db.finish().await;
    }
}
