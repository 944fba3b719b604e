//! The phone's side of pairing by code ("Link with phone number instead"): the user
//! types the 8-character code the companion shows, and both sides derive the ADV
//! secret from Diffie-Hellman exchanges whose public keys travel encrypted by the code.

use wacore::pair_code::PairCodeUtils;
use wacore_libsignal::crypto::aes_256_gcm_decrypt;
use wacore_libsignal::protocol::{KeyPair, PublicKey};

use crate::network::public_bytes;

/// Wrapped key bundle: salt (32) || iv (12) || AES-GCM(bundle of 96 bytes) with tag (16).
const WRAPPED_BUNDLE_LEN: usize = 32 + 12 + 96 + 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkCodeError {
    #[error("'{0}' is not a pairing code: 8 characters of 1-9 and A-Z without I, O and U")]
    BadCode(String),
    #[error("the code does not match the one the companion shows")]
    CodeMismatch,
    #[error("the companion's key bundle is malformed")]
    Malformed,
    #[error("the companion's key bundle names other keys than this pairing")]
    WrongKeys,
}

/// The phone's ephemeral key for one pairing, and the companion's, both in the clear.
pub(crate) struct PrimaryHello {
    pub(crate) ephemeral: KeyPair,
    pub(crate) companion_ephemeral: [u8; 32],
    /// The phone's ephemeral public key encrypted with the code, for `primary_hello`.
    pub(crate) wrapped_ephemeral: [u8; 80],
}

/// Codes are case-insensitive for the user; the key derivation is not.
pub(crate) fn normalize_code(code: &str) -> Result<String, LinkCodeError> {
    let code = code.trim().to_ascii_uppercase();
    if PairCodeUtils::validate_code(&code) { Ok(code) } else { Err(LinkCodeError::BadCode(code)) }
}

/// Unwraps the companion's ephemeral key with the typed code and wraps the phone's.
/// Slow on purpose (two PBKDF2 runs of 131 072 rounds): call it off the async threads.
pub(crate) fn primary_hello(wrapped_companion_ephemeral: &[u8], code: &str) -> Result<PrimaryHello, LinkCodeError> {
    // AES-CTR has no tag: a wrong code yields a wrong key, found out only at the bundle.
    let companion_ephemeral = PairCodeUtils::decrypt_primary_ephemeral_pub(wrapped_companion_ephemeral, code)
        .map_err(|_| LinkCodeError::Malformed)?;
    let ephemeral = KeyPair::generate(&mut rand::rng());
    let wrapped_ephemeral = PairCodeUtils::encrypt_ephemeral_pub(&public_bytes(&ephemeral), code);
    Ok(PrimaryHello { ephemeral, companion_ephemeral, wrapped_ephemeral })
}

/// Opens the companion's `companion_finish` key bundle and derives the ADV secret that
/// keys the HMAC of the device identity the phone grants next.
pub(crate) fn open_key_bundle(
    hello: &PrimaryHello,
    account: &KeyPair,
    wrapped_bundle: &[u8],
    companion_identity: &[u8; 32],
) -> Result<[u8; 32], LinkCodeError> {
    if wrapped_bundle.len() != WRAPPED_BUNDLE_LEN {
        return Err(LinkCodeError::Malformed);
    }
    let agree = |private: &KeyPair, public: &[u8]| {
        let public = PublicKey::from_djb_public_key_bytes(public).map_err(|_| LinkCodeError::Malformed)?;
        private.private_key.calculate_agreement(&public).map_err(|_| LinkCodeError::Malformed)
    };
    let ephemeral_shared = agree(&hello.ephemeral, &hello.companion_ephemeral)?;
    let (salt, rest) = wrapped_bundle.split_at(32);
    let (iv, sealed) = rest.split_at(12);
    let mut key = [0; 32];
    wacore::crypto::hkdf_sha256_into(
        &ephemeral_shared,
        Some(salt),
        b"link_code_pairing_key_bundle_encryption_key",
        &mut key,
    )
    .map_err(|_| LinkCodeError::Malformed)?;
    let iv: [u8; 12] = iv.try_into().map_err(|_| LinkCodeError::Malformed)?;
    let mut bundle = Vec::with_capacity(96);
    aes_256_gcm_decrypt(&key, &iv, b"", sealed, &mut bundle).map_err(|_| LinkCodeError::CodeMismatch)?;
    // bundle = companion identity || phone identity || 32 random bytes
    if bundle[..32] != companion_identity[..] || bundle[32..64] != public_bytes(account)[..] {
        return Err(LinkCodeError::WrongKeys);
    }
    let identity_shared = agree(account, companion_identity)?;
    let secret_input = [&ephemeral_shared[..], &identity_shared, &bundle[64..96]].concat();
    let mut adv_secret = [0; 32];
    wacore::crypto::hkdf_sha256_into(&secret_input, None, b"adv_secret", &mut adv_secret)
        .map_err(|_| LinkCodeError::Malformed)?;
    Ok(adv_secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_companion_derive_the_same_adv_secret() {
        let mut rng = rand::rng();
        let (companion_ephemeral, companion_identity, account) =
            (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
        let code = "ABCD1234";
        let wrapped_companion = PairCodeUtils::encrypt_ephemeral_pub(&public_bytes(&companion_ephemeral), code);

        let hello = primary_hello(&wrapped_companion, &normalize_code("abcd1234").unwrap()).unwrap();

        // The companion's stage 2, as the real client runs it.
        let phone_ephemeral = PairCodeUtils::decrypt_primary_ephemeral_pub(&hello.wrapped_ephemeral, code).unwrap();
        assert_eq!(phone_ephemeral, public_bytes(&hello.ephemeral));
        let (bundle, companion_secret) = PairCodeUtils::prepare_key_bundle(
            &companion_ephemeral,
            &phone_ephemeral,
            &public_bytes(&account),
            &companion_identity,
        )
        .unwrap();
        let phone_secret = open_key_bundle(&hello, &account, &bundle, &public_bytes(&companion_identity)).unwrap();
        assert_eq!(phone_secret, companion_secret);
    }

    #[test]
    fn a_wrong_code_is_found_at_the_bundle() {
        let mut rng = rand::rng();
        let (companion_ephemeral, companion_identity, account) =
            (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
        let wrapped_companion = PairCodeUtils::encrypt_ephemeral_pub(&public_bytes(&companion_ephemeral), "ABCD1234");
        let hello = primary_hello(&wrapped_companion, "WXYZ5678").unwrap();
        let phone_ephemeral =
            PairCodeUtils::decrypt_primary_ephemeral_pub(&hello.wrapped_ephemeral, "ABCD1234").unwrap();
        let (bundle, _) = PairCodeUtils::prepare_key_bundle(
            &companion_ephemeral,
            &phone_ephemeral,
            &public_bytes(&account),
            &companion_identity,
        )
        .unwrap();
        let opened = open_key_bundle(&hello, &account, &bundle, &public_bytes(&companion_identity));
        assert_eq!(opened, Err(LinkCodeError::CodeMismatch));
    }

    #[test]
    fn codes_are_checked_and_uppercased() {
        assert_eq!(normalize_code(" abcd1234 ").unwrap(), "ABCD1234");
        assert!(normalize_code("ABCD123").is_err());
        assert!(normalize_code("ABCD123O").is_err(), "O is not in the alphabet");
    }
}
