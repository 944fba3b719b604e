//! Binary nodes over the Noise transport: each frame is AES-GCM with a per-direction
//! counter as nonce. A counter must never be skipped: the client drops a frame that does
//! not decrypt and from then on every later frame fails too.

use wacore_binary::Node;
use wacore_noise::NoiseCipher;

use super::frame;

pub(crate) struct NodeCipher {
    write: NoiseCipher,
    read: NoiseCipher,
    write_counter: u32,
    read_counter: u32,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("frame counter exhausted")]
    CounterExhausted,
    #[error("frame does not decrypt: {0}")]
    Decrypt(wacore_noise::NoiseError),
    #[error("cannot encrypt: {0}")]
    Encrypt(wacore_noise::NoiseError),
    #[error("not a binary node: {0}")]
    Binary(#[from] wacore_binary::BinaryError),
    #[error("cannot frame: {0}")]
    Frame(anyhow::Error),
}

impl NodeCipher {
    pub(crate) fn from_keys(write: NoiseCipher, read: NoiseCipher) -> Self {
        Self { write, read, write_counter: 0, read_counter: 0 }
    }

    /// Marshals, encrypts and frames one node, ready to go on the WebSocket.
    pub(crate) fn seal(&mut self, node: &Node) -> Result<Vec<u8>, TransportError> {
        // `marshal` already starts with the 0x00 flag byte (uncompressed).
        let plaintext = wacore_binary::marshal(node)?;
        let counter = next(&mut self.write_counter)?;
        let ciphertext = self.write.encrypt_with_counter(counter, &plaintext).map_err(TransportError::Encrypt)?;
        frame::frame(&ciphertext).map_err(TransportError::Frame)
    }

    /// Decrypts and decodes one frame payload from the client.
    pub(crate) fn open(&mut self, mut frame: Vec<u8>) -> Result<Node, TransportError> {
        let counter = next(&mut self.read_counter)?;
        self.read.decrypt_in_place_with_counter(counter, &mut frame).map_err(TransportError::Decrypt)?;
        let unpacked = wacore_binary::util::unpack(&frame)?;
        Ok(wacore_binary::marshal::unmarshal_ref(&unpacked)?.to_owned())
    }
}

fn next(counter: &mut u32) -> Result<u32, TransportError> {
    let current = *counter;
    *counter = current.checked_add(1).ok_or(TransportError::CounterExhausted)?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use wacore_binary::builder::NodeBuilder;

    use super::*;
    use crate::conn::frame::FrameReader;

    fn cipher_pair() -> (NodeCipher, NodeCipher) {
        let a = [7u8; 32];
        let b = [9u8; 32];
        let server = NodeCipher::from_keys(NoiseCipher::new(&a).unwrap(), NoiseCipher::new(&b).unwrap());
        let client = NodeCipher::from_keys(NoiseCipher::new(&b).unwrap(), NoiseCipher::new(&a).unwrap());
        (server, client)
    }

    #[test]
    fn nodes_round_trip_with_advancing_counters() {
        let (mut server, mut client) = cipher_pair();
        let mut reader = FrameReader::new();
        reader.feed(&wacore_binary::consts::WA_CONN_HEADER).unwrap();
        for n in 0..3 {
            let node = NodeBuilder::new("iq").attr("id", format!("id-{n}")).bytes(vec![n; 5]).build();
            reader.feed(&server.seal(&node).unwrap()).unwrap();
            let frame = reader.next_frame().unwrap();
            assert_eq!(client.open(frame).unwrap(), node);
        }
    }
}
