//! The byte stream under the Noise layer: an intro on the client's first frame, then
//! frames of a 3-byte big-endian length and a payload. Frames do not follow WebSocket
//! message boundaries, in either direction, so input is buffered and split here.

use wacore_binary::consts::WA_CONN_HEADER;
use wacore_noise::framing::{FrameDecoder, encode_frame};

/// Prefix of the optional edge-routing preamble the client puts before `WA\x06\x03`
/// when the server once gave it routing info.
const EDGE_ROUTING_MAGIC: [u8; 4] = [b'E', b'D', 0, 1];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    #[error("connection intro is not WA\\x06\\x03 (got {0:02x?})")]
    BadIntro(Vec<u8>),
}

/// Splits the client's byte stream into frame payloads, consuming the intro first.
pub(crate) struct FrameReader {
    /// Bytes received before the intro was complete.
    intro: Option<Vec<u8>>,
    decoder: FrameDecoder,
}

impl FrameReader {
    pub(crate) fn new() -> Self {
        Self { intro: Some(Vec::new()), decoder: FrameDecoder::new() }
    }

    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), FrameError> {
        let Some(pending) = self.intro.as_mut() else {
            self.decoder.feed(data);
            return Ok(());
        };
        pending.extend_from_slice(data);
        if let Some(consumed) = intro_length(pending)? {
            let rest = pending.split_off(consumed);
            self.intro = None;
            self.decoder.feed(&rest);
        }
        Ok(())
    }

    /// The next complete frame payload, if one has fully arrived.
    pub(crate) fn next_frame(&mut self) -> Option<Vec<u8>> {
        if self.intro.is_some() {
            return None;
        }
        self.decoder.decode_frame().map(|frame| frame.to_vec())
    }
}

/// How many bytes the intro takes, once enough have arrived to know.
fn intro_length(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let mut offset = 0;
    if buf.len() >= 4 && buf[..4] == EDGE_ROUTING_MAGIC {
        if buf.len() < 7 {
            return Ok(None);
        }
        let routing_len = (usize::from(buf[4]) << 16) | (usize::from(buf[5]) << 8) | usize::from(buf[6]);
        offset = 7 + routing_len;
    } else if buf.len() < 4 && EDGE_ROUTING_MAGIC.starts_with(buf) {
        return Ok(None);
    }
    let Some(header) = buf.get(offset..offset + WA_CONN_HEADER.len()) else {
        let seen = &buf[offset.min(buf.len())..];
        return if WA_CONN_HEADER.starts_with(seen) { Ok(None) } else { Err(FrameError::BadIntro(seen.to_vec())) };
    };
    if header != WA_CONN_HEADER {
        return Err(FrameError::BadIntro(header.to_vec()));
    }
    Ok(Some(offset + WA_CONN_HEADER.len()))
}

/// Frames a payload for the client (the server never sends an intro).
pub(crate) fn frame(payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    encode_frame(payload, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_first_frame(payload: &[u8], routing: Option<&[u8]>) -> Vec<u8> {
        let mut header = Vec::new();
        if let Some(routing) = routing {
            header.extend_from_slice(&EDGE_ROUTING_MAGIC);
            header.extend_from_slice(&(routing.len() as u32).to_be_bytes()[1..]);
            header.extend_from_slice(routing);
        }
        header.extend_from_slice(&WA_CONN_HEADER);
        encode_frame(payload, Some(&header)).unwrap()
    }

    #[test]
    fn splits_frames_fed_one_byte_at_a_time() {
        let mut stream = client_first_frame(b"hello", None);
        stream.extend(frame(b"second").unwrap());
        stream.extend(frame(b"").unwrap());
        let mut reader = FrameReader::new();
        let mut frames = Vec::new();
        for byte in stream {
            reader.feed(&[byte]).unwrap();
            while let Some(f) = reader.next_frame() {
                frames.push(f);
            }
        }
        assert_eq!(frames, vec![b"hello".to_vec(), b"second".to_vec(), Vec::new()]);
    }

    #[test]
    fn several_frames_in_one_message() {
        let mut stream = client_first_frame(b"a", None);
        stream.extend(frame(b"bb").unwrap());
        let mut reader = FrameReader::new();
        reader.feed(&stream).unwrap();
        assert_eq!(reader.next_frame().unwrap(), b"a");
        assert_eq!(reader.next_frame().unwrap(), b"bb");
        assert_eq!(reader.next_frame(), None);
    }

    #[test]
    fn skips_the_edge_routing_preamble() {
        let stream = client_first_frame(b"hello", Some(b"routing-info"));
        let mut reader = FrameReader::new();
        let (head, tail) = stream.split_at(5);
        reader.feed(head).unwrap();
        assert_eq!(reader.next_frame(), None);
        reader.feed(tail).unwrap();
        assert_eq!(reader.next_frame().unwrap(), b"hello");
    }

    #[test]
    fn rejects_a_stream_without_the_wa_header() {
        let mut reader = FrameReader::new();
        assert!(matches!(reader.feed(b"GET / HTTP/1.1"), Err(FrameError::BadIntro(_))));
        let mut reader = FrameReader::new();
        reader.feed(b"W").unwrap();
        assert!(reader.feed(b"X").is_err());
    }
}
