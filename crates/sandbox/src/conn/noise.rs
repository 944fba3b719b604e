//! The server (responder) side of WhatsApp's Noise handshake: XX for a client that has
//! no cached server key, IK for one that has, and XXfallback when an IK hello does not
//! decrypt (the client cached a key from an earlier sandbox run). The transcript logic
//! is wacore-noise's `NoiseHandshake`; this module only orders the steps.

use std::time::{SystemTime, UNIX_EPOCH};

use buffa::Message as _;
use wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, NOISE_PATTERN_XXFALLBACK, WA_CONN_HEADER};
use wacore_libsignal::protocol::KeyPair;
use wacore_noise::{NoiseCipher, NoiseHandshake};
use waproto::whatsapp::{self as wa, cert_chain::noise_certificate::Details};

/// How long the certificate chain claims to be valid. The client caches it and uses
/// IK while "now" is inside the window, so the window also decides when IK is tried.
const CERT_VALIDITY_SECS: u64 = 365 * 24 * 3600;

/// The sandbox's long-lived Noise identity and the certificate chain that vouches for it.
pub(crate) struct ServerIdentity {
    static_key: KeyPair,
    cert_chain: Vec<u8>,
}

impl ServerIdentity {
    pub(crate) fn generate() -> Self {
        let mut rng = rand::rng();
        let static_key = KeyPair::generate(&mut rng);
        let cert_chain = build_cert_chain(&static_key);
        Self { static_key, cert_chain }
    }

    fn static_public(&self) -> &[u8] {
        self.static_key.public_key.public_key_bytes()
    }
}

/// A chain shaped like WhatsApp's: an intermediate (issuer serial 0, WhatsApp's root)
/// and a leaf for our static key. The signatures are real XEdDSA over the details, by a
/// sandbox root and intermediate; clients built with `danger-skip-cert-chain-verify`
/// check only the shape and that the leaf key is the server's static key.
fn build_cert_chain(static_key: &KeyPair) -> Vec<u8> {
    let mut rng = rand::rng();
    let root = KeyPair::generate(&mut rng);
    let intermediate = KeyPair::generate(&mut rng);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // A day of slack before "now" so a client whose clock runs behind still accepts it.
    let (not_before, not_after) = (now.saturating_sub(24 * 3600), now + CERT_VALIDITY_SECS);
    let intermediate_details = Details {
        serial: Some(1),
        issuer_serial: Some(0),
        key: Some(intermediate.public_key.public_key_bytes().to_vec()),
        not_before: Some(not_before),
        not_after: Some(not_after),
    }
    .encode_to_vec();
    let leaf_details = Details {
        serial: Some(2),
        issuer_serial: Some(1),
        key: Some(static_key.public_key.public_key_bytes().to_vec()),
        not_before: Some(not_before),
        not_after: Some(not_after),
    }
    .encode_to_vec();
    let sign = |key: &KeyPair, details: &[u8]| {
        key.private_key.calculate_signature(details, &mut rand::rng()).map(|s| s.to_vec()).unwrap_or_default()
    };
    let certificate = |details: Vec<u8>, signature: Vec<u8>| {
        buffa::MessageField::some(wa::cert_chain::NoiseCertificate {
            details: Some(details),
            signature: Some(signature),
        })
    };
    wa::CertChain {
        intermediate: certificate(intermediate_details.clone(), sign(&root, &intermediate_details)),
        leaf: certificate(leaf_details.clone(), sign(&intermediate, &leaf_details)),
    }
    .encode_to_vec()
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("malformed handshake message: {0}")]
    Malformed(&'static str),
    #[error("noise: {0}")]
    Noise(#[from] wacore_noise::HandshakeError),
}

/// The two transport ciphers and what the client proved in the handshake.
pub(crate) struct Established {
    pub(crate) write: NoiseCipher,
    pub(crate) read: NoiseCipher,
    /// The client's Noise static key: the device's `noise_key`, also in its QR code.
    pub(crate) client_static: [u8; 32],
    /// The encrypted `ClientPayload` (login or registration).
    pub(crate) payload: Vec<u8>,
}

/// What to do after the client hello.
pub(crate) enum HelloReply {
    /// XX or XXfallback: send `server_hello`, then read the client finish.
    AwaitFinish { server_hello: Vec<u8>, pending: PendingFinish },
    /// IK accepted: send `server_hello`; the handshake is complete.
    Done { server_hello: Vec<u8>, established: Established },
}

/// An XX-style handshake waiting for the client finish.
pub(crate) struct PendingFinish {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
}

/// Answers the client hello (the first frame's payload).
pub(crate) fn answer_hello(server: &ServerIdentity, hello: &[u8]) -> Result<HelloReply, HandshakeError> {
    let message =
        waproto::codec::handshake_message_decode(hello).map_err(|_| HandshakeError::Malformed("client hello"))?;
    let hello = message.client_hello.into_option().ok_or(HandshakeError::Malformed("no client hello"))?;
    let client_ephemeral: [u8; 32] = hello
        .ephemeral
        .and_then(|e| e.try_into().ok())
        .ok_or(HandshakeError::Malformed("client ephemeral is not 32 bytes"))?;
    if let (Some(static_ct), Some(payload_ct)) = (hello.r#static, hello.payload) {
        match accept_ik(server, &client_ephemeral, &static_ct, &payload_ct) {
            Ok(reply) => return Ok(reply),
            Err(error) => {
                tracing::debug!(%error, "IK hello does not decrypt with our static key, answering XXfallback")
            }
        }
        return start_xx(server, NOISE_PATTERN_XXFALLBACK, &client_ephemeral);
    }
    start_xx(server, NOISE_PATTERN_XX, &client_ephemeral)
}

/// XX message 2 (`<- e, ee, s, es` plus the certificate chain as payload).
fn start_xx(server: &ServerIdentity, pattern: &str, client_ephemeral: &[u8; 32]) -> Result<HelloReply, HandshakeError> {
    let mut noise = NoiseHandshake::new(pattern, &WA_CONN_HEADER)?;
    noise.authenticate(client_ephemeral);
    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_public = ephemeral.public_key.public_key_bytes().to_vec();
    noise.authenticate(&ephemeral_public);
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    let static_ct = noise.encrypt(server.static_public())?;
    noise.mix_shared_secret(server.static_key.private_key.serialize(), client_ephemeral)?;
    let cert_ct = noise.encrypt(&server.cert_chain)?;
    let server_hello = server_hello(ephemeral_public, Some(static_ct), cert_ct);
    Ok(HelloReply::AwaitFinish { server_hello, pending: PendingFinish { noise, ephemeral } })
}

impl PendingFinish {
    /// XX message 3 (`-> s, se` plus the client payload).
    pub(crate) fn read_finish(mut self, finish: &[u8]) -> Result<Established, HandshakeError> {
        let message =
            waproto::codec::handshake_message_decode(finish).map_err(|_| HandshakeError::Malformed("client finish"))?;
        let finish = message.client_finish.into_option().ok_or(HandshakeError::Malformed("no client finish"))?;
        let static_ct = finish.r#static.ok_or(HandshakeError::Malformed("client finish without static"))?;
        let payload_ct = finish.payload.ok_or(HandshakeError::Malformed("client finish without payload"))?;
        let client_static: [u8; 32] = self
            .noise
            .decrypt(&static_ct)?
            .try_into()
            .map_err(|_| HandshakeError::Malformed("client static is not 32 bytes"))?;
        self.noise.mix_shared_secret(self.ephemeral.private_key.serialize(), &client_static)?;
        let payload = self.noise.decrypt(&payload_ct)?;
        let (initiator_write, initiator_read) = self.noise.finish()?;
        // The split is named from the initiator's side: what it writes, we read.
        Ok(Established { write: initiator_read, read: initiator_write, client_static, payload })
    }
}

/// IK: the client already knows our static key, sent its own static and the payload
/// in the hello, and expects `<- e, ee, se` with the chain and no static.
fn accept_ik(
    server: &ServerIdentity,
    client_ephemeral: &[u8; 32],
    static_ct: &[u8],
    payload_ct: &[u8],
) -> Result<HelloReply, HandshakeError> {
    let server_static_private = server.static_key.private_key.serialize();
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER)?;
    noise.authenticate(server.static_public());
    noise.authenticate(client_ephemeral);
    noise.mix_shared_secret(server_static_private, client_ephemeral)?;
    let client_static: [u8; 32] =
        noise.decrypt(static_ct)?.try_into().map_err(|_| HandshakeError::Malformed("client static is not 32 bytes"))?;
    noise.mix_shared_secret(server_static_private, &client_static)?;
    let payload = noise.decrypt(payload_ct)?;
    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_public = ephemeral.public_key.public_key_bytes().to_vec();
    noise.authenticate(&ephemeral_public);
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    noise.mix_shared_secret(ephemeral.private_key.serialize(), &client_static)?;
    let cert_ct = noise.encrypt(&server.cert_chain)?;
    let server_hello = server_hello(ephemeral_public, None, cert_ct);
    let (initiator_write, initiator_read) = noise.finish()?;
    let established = Established { write: initiator_read, read: initiator_write, client_static, payload };
    Ok(HelloReply::Done { server_hello, established })
}

fn server_hello(ephemeral: Vec<u8>, static_ct: Option<Vec<u8>>, payload_ct: Vec<u8>) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral),
            r#static: static_ct,
            payload: Some(payload_ct),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use wacore_noise::{IkHandshakeState, IkServerHelloOutcome, XxFallbackHandshakeState, XxHandshakeState};

    use super::*;

    fn assert_ciphers_pair(client_write: &NoiseCipher, client_read: &NoiseCipher, server: &Established) {
        let sealed = client_write.encrypt_with_counter(0, b"to server").unwrap();
        let mut buf = sealed.clone();
        server.read.decrypt_in_place_with_counter(0, &mut buf).unwrap();
        assert_eq!(buf, b"to server");
        let mut back = server.write.encrypt_with_counter(0, b"to client").unwrap();
        client_read.decrypt_in_place_with_counter(0, &mut back).unwrap();
        assert_eq!(back, b"to client");
    }

    #[test]
    fn xx_handshake_with_the_real_client_state_machine() {
        let server = ServerIdentity::generate();
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client = XxHandshakeState::new(client_static.clone(), b"payload".to_vec(), &WA_CONN_HEADER).unwrap();
        let HelloReply::AwaitFinish { server_hello, pending } =
            answer_hello(&server, &client.build_client_hello().unwrap()).unwrap()
        else {
            panic!("XX hello must wait for the finish");
        };
        let finish = client.read_server_hello_and_build_client_finish(&server_hello).unwrap();
        let established = pending.read_finish(&finish).unwrap();
        let outcome = client.finish().unwrap();
        assert_eq!(established.payload, b"payload");
        assert_eq!(&established.client_static[..], client_static.public_key.public_key_bytes());
        assert_eq!(outcome.server_cert_chain.leaf_key.as_slice(), server.static_public());
        assert_ciphers_pair(&outcome.write_cipher, &outcome.read_cipher, &established);
    }

    #[test]
    fn ik_handshake_is_accepted_with_the_current_key() {
        let server = ServerIdentity::generate();
        let static_pub: [u8; 32] = server.static_public().try_into().unwrap();
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client = IkHandshakeState::new(client_static, static_pub, b"login".to_vec(), &WA_CONN_HEADER).unwrap();
        let HelloReply::Done { server_hello, established } =
            answer_hello(&server, &client.build_client_hello().unwrap()).unwrap()
        else {
            panic!("IK with the right key completes at once");
        };
        assert_eq!(established.payload, b"login");
        let IkServerHelloOutcome::Continue(outcome) = client.read_server_hello(&server_hello).unwrap() else {
            panic!("client must continue, not fall back");
        };
        assert_ciphers_pair(&outcome.write_cipher, &outcome.read_cipher, &established);
    }

    #[test]
    fn ik_with_a_stale_key_falls_back_to_xx() {
        let server = ServerIdentity::generate();
        let stale = ServerIdentity::generate();
        let stale_pub: [u8; 32] = stale.static_public().try_into().unwrap();
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client = IkHandshakeState::new(client_static, stale_pub, b"login".to_vec(), &WA_CONN_HEADER).unwrap();
        let HelloReply::AwaitFinish { server_hello, pending } =
            answer_hello(&server, &client.build_client_hello().unwrap()).unwrap()
        else {
            panic!("a stale IK hello must be answered with XXfallback");
        };
        let IkServerHelloOutcome::Fallback(inputs) = client.read_server_hello(&server_hello).unwrap() else {
            panic!("client must fall back");
        };
        let mut fallback = XxFallbackHandshakeState::from_ik_failure(*inputs, &WA_CONN_HEADER).unwrap();
        let finish = fallback.build_client_finish().unwrap();
        let established = pending.read_finish(&finish).unwrap();
        let outcome = fallback.finish().unwrap();
        assert_eq!(established.payload, b"login");
        assert_ciphers_pair(&outcome.write_cipher, &outcome.read_cipher, &established);
    }
}
