//! What a file really is, from its first bytes (the `infer` crate), and whether that
//! fits the kind of message it is sent as. The client's word (a file name, a
//! `Content-Type`) counts only for documents, whose type WhatsApp shows but never plays.

use super::{MediaError, MediaKind};

/// The file type `infer` finds, with 3GP added (infer has no matcher for it) and AMR
/// told apart from scripts.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if is_3gp(bytes) {
        return Some("video/3gpp");
    }
    // AMR files start with `#!AMR`, which infer takes for a shell script's `#!`.
    if bytes.starts_with(b"#!AMR") {
        return Some("audio/amr");
    }
    infer::get(bytes).map(|t| t.mime_type())
}

/// 3GP is MP4's container with a `3gp…`/`3g2…` brand in its `ftyp` box.
fn is_3gp(bytes: &[u8]) -> bool {
    bytes.len() > 11 && &bytes[4..8] == b"ftyp" && (&bytes[8..11] == b"3gp" || &bytes[8..11] == b"3g2")
}

/// The mimetype to store for a `video` or `audio` (the only kinds checked here:
/// pictures are checked by decoding them, documents are anything), or why the file
/// does not fit the kind.
pub fn check_playable(kind: MediaKind, sniffed: Option<&'static str>) -> Result<&'static str, MediaError> {
    let found = || match sniffed {
        Some(mime) => format!("the file is {mime}"),
        None => "the file's type is not recognised".to_owned(),
    };
    match kind {
        MediaKind::Video => match sniffed {
            Some("video/mp4" | "video/x-m4v") => Ok("video/mp4"),
            Some("video/3gpp") => Ok("video/3gpp"),
            _ => Err(MediaError::Invalid(format!("a video must be MP4 or 3GP; {}", found()))),
        },
        MediaKind::Audio => match sniffed {
            // Voice notes are Opus in Ogg, which WhatsApp names this way.
            Some("audio/opus") => Ok("audio/ogg; codecs=opus"),
            Some("audio/mpeg") => Ok("audio/mpeg"),
            // An MP4 holding only sound is audio/mp4; infer cannot see inside.
            Some("audio/m4a" | "video/mp4") => Ok("audio/mp4"),
            Some("audio/aac") => Ok("audio/aac"),
            Some("audio/amr") => Ok("audio/amr"),
            Some("audio/ogg") => Err(MediaError::Invalid(
                "Ogg audio must be Opus (as voice notes are); this Ogg file holds another codec".to_owned(),
            )),
            _ => Err(MediaError::Invalid(format!("audio must be Opus (Ogg), MP3, AAC, M4A or AMR; {}", found()))),
        },
        MediaKind::Image | MediaKind::Sticker | MediaKind::Document => {
            Err(MediaError::Internal(anyhow::anyhow!("check_playable called for {}", kind.as_str())))
        }
    }
}

/// A document's mimetype: what the bytes are when that is known, else what the client
/// or the server said, else `application/octet-stream`.
pub fn document_type(sniffed: Option<&'static str>, claimed: Option<&str>) -> String {
    if let Some(mime) = sniffed {
        return mime.to_owned();
    }
    claimed
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase())
        .filter(|c| is_mime(c))
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// `type/subtype` made of the characters RFC 6838 allows.
fn is_mime(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty() && t.len() <= 127 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

/// The kind stored for received media, from its type.
pub fn kind_of(mimetype: &str) -> MediaKind {
    match mimetype.split('/').next() {
        Some("image") => MediaKind::Image,
        Some("video") => MediaKind::Video,
        Some("audio") => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0x18];
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(brand);
        b.extend_from_slice(&[0; 12]);
        b
    }

    fn ogg(codec_head: &[u8; 8]) -> Vec<u8> {
        let mut b = b"OggS".to_vec();
        b.resize(28, 0);
        b.extend_from_slice(codec_head);
        b.resize(64, 0);
        b
    }

    #[test]
    fn videos_must_be_mp4_or_3gp() {
        assert_eq!(check_playable(MediaKind::Video, sniff(&ftyp(b"isom"))).unwrap(), "video/mp4");
        assert_eq!(check_playable(MediaKind::Video, sniff(&ftyp(b"3gp4"))).unwrap(), "video/3gpp");
        let err = check_playable(MediaKind::Video, sniff(b"%PDF-1.7\n")).unwrap_err();
        assert!(matches!(&err, MediaError::Invalid(why) if why.contains("application/pdf")), "{err:?}");
    }

    #[test]
    fn audio_must_be_a_kind_whatsapp_plays() {
        assert_eq!(check_playable(MediaKind::Audio, sniff(&ogg(b"OpusHead"))).unwrap(), "audio/ogg; codecs=opus");
        assert_eq!(check_playable(MediaKind::Audio, sniff(b"ID3\x03\0\0\0\0\0\0")).unwrap(), "audio/mpeg");
        assert_eq!(check_playable(MediaKind::Audio, sniff(&ftyp(b"M4A "))).unwrap(), "audio/mp4");
        assert_eq!(check_playable(MediaKind::Audio, sniff(b"#!AMR\n\0\0\0\0")).unwrap(), "audio/amr");
        assert!(check_playable(MediaKind::Audio, sniff(&ogg(b"\x01vorbis\0"))).is_err(), "Vorbis is not played");
        assert!(check_playable(MediaKind::Audio, sniff(b"just some text")).is_err());
    }

    #[test]
    fn a_document_trusts_the_bytes_before_the_claim() {
        assert_eq!(document_type(sniff(b"%PDF-1.7\n"), Some("text/plain")), "application/pdf");
        assert_eq!(document_type(sniff(b"name,qty\n"), Some("text/csv; charset=utf-8")), "text/csv");
        assert_eq!(document_type(None, Some("not a type")), "application/octet-stream");
        assert_eq!(document_type(None, None), "application/octet-stream");
    }

    #[test]
    fn received_media_kinds_follow_the_type() {
        assert_eq!(kind_of("image/jpeg"), MediaKind::Image);
        assert_eq!(kind_of("audio/ogg; codecs=opus"), MediaKind::Audio);
        assert_eq!(kind_of("application/pdf"), MediaKind::Document);
    }
}
