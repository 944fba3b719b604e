//! How long a video or a voice note plays, which WhatsApp shows before it is played.
//! Read by hand from the two containers that state it in a fixed place (an MP4's
//! `mvhd` box, the last Ogg page's granule position): the crates that parse media
//! (symphonia, mp4) decode far more than this needs. Other formats get no duration.

/// Seconds (rounded up, so a 0.4 s note shows 1 s) if the container states them.
pub fn seconds(mimetype: &str, bytes: &[u8]) -> Option<u32> {
    let seconds = match mimetype.split(';').next()?.trim() {
        "video/mp4" | "video/3gpp" | "audio/mp4" => mp4_seconds(bytes)?,
        "audio/ogg" => opus_seconds(bytes)?,
        _ => return None,
    };
    u32::try_from(seconds.ceil() as u64).ok()
}

/// The boxes of one level of an MP4: (type, body).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let header = data.get(..8)?;
        let size32 = u32::from_be_bytes(header[..4].try_into().ok()?);
        let (size, start) = match size32 {
            // A 64-bit size follows the type.
            1 => (usize::try_from(u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)).ok()?, 16),
            // The box runs to the end of the file.
            0 => (data.len(), 8),
            n => (n as usize, 8),
        };
        if size < start || size > data.len() {
            return None;
        }
        let found = (&header[4..8], &data[start..size]);
        data = &data[size..];
        Some(found)
    })
}

fn mp4_seconds(bytes: &[u8]) -> Option<f64> {
    let (_, moov) = boxes(bytes).find(|(kind, _)| *kind == b"moov")?;
    let (_, mvhd) = boxes(moov).find(|(kind, _)| *kind == b"mvhd")?;
    let be32 = |at: usize| Some(u32::from_be_bytes(mvhd.get(at..at + 4)?.try_into().ok()?));
    let (timescale, duration) = match mvhd.first()? {
        // version, flags, created, modified, timescale, duration
        0 => (be32(12)?, u64::from(be32(16)?)),
        1 => (be32(20)?, u64::from_be_bytes(mvhd.get(24..32)?.try_into().ok()?)),
        _ => return None,
    };
    (timescale > 0 && duration > 0 && duration != u64::from(u32::MAX)).then(|| duration as f64 / f64::from(timescale))
}

/// Opus in Ogg: the last page's granule position counts 48 kHz samples, less the
/// pre-skip that the `OpusHead` packet names.
fn opus_seconds(bytes: &[u8]) -> Option<f64> {
    let head = bytes.windows(8).position(|w| w == b"OpusHead")?;
    let pre_skip = u16::from_le_bytes(bytes.get(head + 10..head + 12)?.try_into().ok()?);
    // Pages are at most ~64 KiB, so the last one starts within the last 64 KiB.
    let tail_start = bytes.len().saturating_sub(65_307);
    let last = tail_start + bytes[tail_start..].windows(4).rposition(|w| w == b"OggS")?;
    let granule = i64::from_le_bytes(bytes.get(last + 6..last + 14)?.try_into().ok()?);
    let samples = granule.checked_sub(i64::from(pre_skip))?;
    (samples > 0).then(|| samples as f64 / 48_000.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// An MP4 skeleton: ftyp, then moov with an mvhd of `duration` at `timescale`.
    pub(crate) fn mp4(timescale: u32, duration: u32) -> Vec<u8> {
        let mut mvhd = vec![0; 4]; // version 0, flags
        mvhd.extend_from_slice(&[0; 8]); // created, modified
        mvhd.extend_from_slice(&timescale.to_be_bytes());
        mvhd.extend_from_slice(&duration.to_be_bytes());
        mvhd.extend_from_slice(&[0; 80]);
        let mut file = mp4_box(b"ftyp", b"isom\0\0\0\0isomavc1");
        file.extend(mp4_box(b"free", &[0; 16]));
        file.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
        file
    }

    fn ogg_page(granule: i64, payload: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0\0".to_vec();
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&[0; 12]); // serial, sequence, checksum
        page.push(1);
        page.push(payload.len() as u8);
        page.extend_from_slice(payload);
        page
    }

    #[test]
    fn an_mp4_states_its_duration_in_mvhd() {
        assert_eq!(seconds("video/mp4", &mp4(1000, 12_345)), Some(13));
        assert_eq!(seconds("audio/mp4", &mp4(44_100, 441_000)), Some(10));
        assert_eq!(seconds("video/mp4", &mp4(0, 5)), None, "no timescale, no duration");
        assert_eq!(seconds("video/mp4", b"\0\0\0\x18ftypisom"), None, "no moov");
    }

    #[test]
    fn an_opus_voice_note_counts_its_samples() {
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&[0; 7]);
        let mut file = ogg_page(0, &head);
        file.extend(ogg_page(0, b"OpusTags"));
        file.extend(ogg_page(48_000 * 3 + 312, &[0; 40]));

        assert_eq!(seconds("audio/ogg; codecs=opus", &file), Some(3));
        assert_eq!(seconds("audio/mpeg", &file), None, "only containers that state it");
    }
}
