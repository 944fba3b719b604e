//! The phone's first message to a newly linked companion: the account's app-state sync
//! key, Signal-encrypted to the companion's signed prekey, as WhatsApp's app sends it
//! right after linking. A fresh companion waits for this key before its first sync.

use std::collections::HashMap;

use async_trait::async_trait;
use buffa::Message as _;
use sha2::{Digest, Sha256};
use wacore::messages::MessageUtils;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;
use wacore_libsignal::protocol::{
    CiphertextMessage, DeviceId, Direction, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore, KeyPair,
    PreKeyBundle, ProtocolAddress, PublicKey, SessionRecord, SessionStore, SignalProtocolError, UsePQRatchet,
    message_encrypt, process_prekey_bundle,
};
use waproto::whatsapp as wa;

use crate::network::SignalKeys;

/// The phone's side of a share: its identity (the account key) and what the key's
/// fingerprint names.
pub(crate) struct Sharer<'a> {
    pub(crate) account_key: &'a KeyPair,
    pub(crate) registration_id: u32,
    pub(crate) raw_id: u32,
    pub(crate) key_index: u32,
}

/// The `<enc>` the phone sends to `companion` (device `device`), carrying the account's
/// app-state sync key. The key is derived from the account key, so every companion of
/// an account gets the same one, without the phone keeping any state.
pub(crate) async fn app_state_key_share(
    sharer: &Sharer<'_>,
    companion: &SignalKeys,
    device: u16,
    timestamp_ms: i64,
) -> anyhow::Result<Node> {
    let digest = Sha256::new()
        .chain_update(b"wagate sandbox app-state sync key")
        .chain_update(sharer.account_key.private_key.serialize())
        .finalize();
    let key = wa::message::AppStateSyncKey {
        key_id: buffa::MessageField::some(wa::message::AppStateSyncKeyId { key_id: Some(digest[..6].to_vec()) }),
        key_data: buffa::MessageField::some(wa::message::AppStateSyncKeyData {
            key_data: Some(Sha256::digest(digest).to_vec()),
            fingerprint: buffa::MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                raw_id: Some(sharer.raw_id),
                current_index: Some(sharer.key_index),
                device_indexes: vec![0, sharer.key_index],
            }),
            timestamp: Some(timestamp_ms),
        }),
    };
    let message = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::AppStateSyncKeyShare),
            app_state_sync_key_share: buffa::MessageField::some(wa::message::AppStateSyncKeyShare { keys: vec![key] }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let plaintext = MessageUtils::pad_message_v2(message.encode_to_vec());

    let identity =
        IdentityKeyPair::new(IdentityKey::new(sharer.account_key.public_key), sharer.account_key.private_key.clone());
    let mut identity = PhoneIdentity { identity, registration_id: sharer.registration_id };
    let mut sessions = PhoneSessions::default();
    let address = ProtocolAddress::new("companion", DeviceId::from(u32::from(device)));
    let signed = &companion.signed_prekey;
    let bundle = PreKeyBundle::new(
        companion.registration_id,
        DeviceId::from(u32::from(device)),
        None,
        signed.id.into(),
        PublicKey::from_djb_public_key_bytes(&signed.public)?,
        signed.signature.clone(),
        IdentityKey::new(PublicKey::from_djb_public_key_bytes(&companion.identity)?),
    )?;
    // A seeded generator rather than the thread's: this future moves between threads.
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    process_prekey_bundle(&address, &mut sessions, &mut identity, &bundle, &mut rng, UsePQRatchet::No).await?;
    let ciphertext = message_encrypt(&plaintext, &address, &mut sessions, &mut identity).await?;
    let (kind, bytes) = match &ciphertext {
        CiphertextMessage::PreKeySignalMessage(m) => ("pkmsg", m.serialized()),
        CiphertextMessage::SignalMessage(m) => ("msg", m.serialized()),
        _ => anyhow::bail!("unexpected ciphertext kind for a new session"),
    };
    Ok(NodeBuilder::new("enc").attr("v", "2").attr("type", kind).bytes(bytes.to_vec()).build())
}

/// The phone's Signal identity, for one share.
struct PhoneIdentity {
    identity: IdentityKeyPair,
    registration_id: u32,
}

/// The one session a share opens.
#[derive(Default)]
struct PhoneSessions {
    sessions: HashMap<String, SessionRecord>,
}

type SignalResult<T> = Result<T, SignalProtocolError>;

#[async_trait]
impl IdentityKeyStore for PhoneIdentity {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        Ok(self.identity.clone())
    }

    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        Ok(self.registration_id)
    }

    async fn save_identity(&mut self, _: &ProtocolAddress, _: &IdentityKey) -> SignalResult<IdentityChange> {
        Ok(IdentityChange::NewOrUnchanged)
    }

    async fn is_trusted_identity(&self, _: &ProtocolAddress, _: &IdentityKey, _: Direction) -> SignalResult<bool> {
        // The phone has just verified this companion's identity signature while linking.
        Ok(true)
    }

    async fn get_identity(&self, _: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        Ok(None)
    }
}

#[async_trait]
impl SessionStore for PhoneSessions {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        Ok(self.sessions.get(&address.to_string()).cloned())
    }

    async fn has_session(&self, address: &ProtocolAddress) -> SignalResult<bool> {
        Ok(self.sessions.contains_key(&address.to_string()))
    }

    async fn store_session(&mut self, address: &ProtocolAddress, record: SessionRecord) -> SignalResult<()> {
        self.sessions.insert(address.to_string(), record);
        Ok(())
    }
}
