//! The simulated primary phone of a sandbox account: it reads a companion's QR code and
//! vouches for the new device with an ADV identity signed by the account key, exactly as
//! the WhatsApp app does when a user scans "Link a device".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use buffa::Message as _;
use wacore::adv::{AdvValidation, validate_adv_with_identity_key};
use wacore::companion_reg::NATIVE_CAMERA_DEEP_LINK_PREFIX;
use wacore::pair::PairUtils;
use wacore_libsignal::crypto::CryptographicMac;
use wacore_libsignal::protocol::KeyPair;
use waproto::whatsapp as wa;

pub(crate) mod key_share;
pub(crate) mod link_code;

/// ADV signature domain separators for end-to-end (not hosted) accounts.
const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];

/// What a companion's QR code carries: `ref,noise,identity,adv_secret[,platform]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionQr {
    /// The pairing ref the server handed the companion; names the waiting connection.
    pub pairing_ref: String,
    /// The companion's Noise static key; it must be the key of that connection.
    pub noise_public: [u8; 32],
    /// The companion's Signal identity key, which the phone signs into the ADV identity.
    pub identity_public: [u8; 32],
    /// Shared secret of phone and companion: the key of the ADV identity's HMAC.
    pub adv_secret: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a WhatsApp link-device QR code: {0}")]
pub struct InvalidQr(pub String);

impl CompanionQr {
    pub fn parse(text: &str) -> Result<Self, InvalidQr> {
        let text = text.trim();
        let (pairing_ref, noise_public, identity_public) =
            PairUtils::parse_qr_code(text).map_err(|e| InvalidQr(e.to_string()))?;
        // wacore's parser does not return the fourth field, the ADV secret.
        let body = text.strip_prefix(NATIVE_CAMERA_DEEP_LINK_PREFIX).unwrap_or(text);
        let adv_field = body.split(',').nth(3).ok_or_else(|| InvalidQr("no ADV secret".into()))?;
        let adv_secret = BASE64
            .decode(adv_field)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| InvalidQr("the ADV secret is not 32 bytes of base64".into()))?;
        Ok(Self { pairing_ref, noise_public, identity_public, adv_secret })
    }
}

/// What the phone signs about a new companion device.
pub(crate) struct DeviceGrant<'a> {
    pub(crate) account_key: &'a KeyPair,
    /// The account's ADV id, shared by all its device identities and key-index lists.
    pub(crate) raw_id: u32,
    pub(crate) key_index: u32,
    pub(crate) companion_identity: &'a [u8; 32],
    pub(crate) adv_secret: &'a [u8; 32],
    pub(crate) timestamp: u64,
}

/// Builds the `<device-identity>` content of `<pair-success>`: an
/// `ADVSignedDeviceIdentityHMAC` whose inner identity the account key has signed.
/// The companion adds its own device signature and sends it back in `pair-device-sign`.
pub(crate) fn grant_device_identity(grant: &DeviceGrant<'_>) -> anyhow::Result<Vec<u8>> {
    let details = wa::ADVDeviceIdentity {
        raw_id: Some(grant.raw_id),
        timestamp: Some(grant.timestamp),
        key_index: Some(grant.key_index),
        account_type: Some(wa::ADVEncryptionType::E2EE),
        device_type: Some(wa::ADVEncryptionType::E2EE),
    }
    .encode_to_vec();
    let message = [&ACCOUNT_SIGNATURE_PREFIX[..], &details, grant.companion_identity].concat();
    let account_signature = grant.account_key.private_key.calculate_signature(&message, &mut rand::rng())?;
    let signed = waproto::codec::adv_signed_device_identity_to_vec(&wa::ADVSignedDeviceIdentity {
        details: Some(details),
        account_signature_key: Some(grant.account_key.public_key.public_key_bytes().to_vec()),
        account_signature: Some(account_signature.to_vec()),
        device_signature: None,
    });
    let mut mac = CryptographicMac::new("HmacSha256", grant.adv_secret)?;
    mac.update(&signed);
    let hmac = mac.finalize();
    Ok(wa::ADVSignedDeviceIdentityHMAC {
        details: Some(signed),
        hmac: Some(hmac),
        account_type: Some(wa::ADVEncryptionType::E2EE),
    }
    .encode_to_vec())
}

/// Checks the identity the companion returned in `pair-device-sign`: it still names our
/// account key (wacore's validation trusts the key inside the blob), the account
/// signature holds, and the device signature is by the companion's identity key.
pub(crate) fn companion_signature_is_valid(
    signed_identity: &[u8],
    companion_identity: &[u8; 32],
    account_public: &[u8; 32],
) -> bool {
    let names_our_account = waproto::codec::adv_signed_device_identity_decode(signed_identity)
        .is_ok_and(|signed| signed.account_signature_key.as_deref() == Some(&account_public[..]));
    names_our_account
        && validate_adv_with_identity_key(signed_identity, companion_identity, Some(account_public))
            == AdvValidation::Valid
}

#[cfg(test)]
mod tests {
    use wacore::companion_reg::CompanionWebClientType;
    use wacore::pair::DeviceState;

    use super::*;

    fn companion() -> DeviceState {
        let mut rng = rand::rng();
        DeviceState {
            identity_key: KeyPair::generate(&mut rng),
            noise_key: KeyPair::generate(&mut rng),
            adv_secret_key: [42; 32],
        }
    }

    fn public(key: &KeyPair) -> [u8; 32] {
        key.public_key.public_key_bytes().try_into().unwrap()
    }

    #[test]
    fn parses_the_qr_the_client_renders() {
        let device = companion();
        let qr = PairUtils::make_qr_data(&device, "2@abc", CompanionWebClientType::OtherWebClient);
        let parsed = CompanionQr::parse(&qr).unwrap();
        assert_eq!(parsed.pairing_ref, "2@abc");
        assert_eq!(parsed.noise_public, public(&device.noise_key));
        assert_eq!(parsed.identity_public, public(&device.identity_key));
        assert_eq!(parsed.adv_secret, [42; 32]);
        let deep_link = format!("{NATIVE_CAMERA_DEEP_LINK_PREFIX}{qr}");
        assert_eq!(CompanionQr::parse(&deep_link).unwrap(), parsed);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "hello", "a,b,c,d", "2@x,AAAA,AAAA,AAAA,9"] {
            assert!(CompanionQr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_client_accepts_the_grant_and_we_accept_its_signature() {
        let device = companion();
        let account = KeyPair::generate(&mut rand::rng());
        let grant = DeviceGrant {
            account_key: &account,
            raw_id: 77,
            key_index: 3,
            companion_identity: &public(&device.identity_key),
            adv_secret: &device.adv_secret_key,
            timestamp: 1_700_000_000,
        };
        let container = grant_device_identity(&grant).unwrap();
        // The companion side of pairing, as the real client runs it.
        let (signed, key_index) = PairUtils::do_pair_crypto(&device, &container).unwrap();
        assert_eq!(key_index, 3);
        assert!(companion_signature_is_valid(&signed, &public(&device.identity_key), &public(&account)));
        let stranger = KeyPair::generate(&mut rand::rng());
        assert!(!companion_signature_is_valid(&signed, &public(&stranger), &public(&account)));
        assert!(!companion_signature_is_valid(&signed, &public(&device.identity_key), &public(&stranger)));
    }

    #[test]
    fn the_client_rejects_a_grant_with_the_wrong_adv_secret() {
        let device = companion();
        let account = KeyPair::generate(&mut rand::rng());
        let grant = DeviceGrant {
            account_key: &account,
            raw_id: 1,
            key_index: 1,
            companion_identity: &public(&device.identity_key),
            adv_secret: &[0; 32],
            timestamp: 1,
        };
        let error = PairUtils::do_pair_crypto(&device, &grant_device_identity(&grant).unwrap()).unwrap_err();
        assert_eq!(error.text, "hmac-mismatch");
    }
}
