//! Media as base64 and uploads, and received media put under a message's id.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Fixture, png, tenant};
use crate::media::{ImagePolicy, MediaError, MediaKind, MediaSource, StoredMedia};

async fn ingest(fx: &Fixture, kind: MediaKind, source: MediaSource) -> Result<StoredMedia, MediaError> {
    fx.media.ingest(&tenant(), kind, source, &ImagePolicy::default()).await
}

fn upload(bytes: impl Into<Bytes>, filename: &str) -> MediaSource {
    MediaSource::Upload { bytes: bytes.into(), filename: Some(filename.to_owned()), content_type: None }
}

#[tokio::test]
async fn base64_garbage_is_invalid_and_stores_nothing() {
    let fx = Fixture::new(&[]).await;

    for data in ["not base64 at all!", "iVBORw0KGgo=====", "data:image/png,plain"] {
        let result = ingest(&fx, MediaKind::Image, MediaSource::Base64(data.to_owned())).await;
        assert!(matches!(result, Err(MediaError::Invalid(_))), "{data}: {result:?}");
    }
    let empty = ingest(&fx, MediaKind::Document, MediaSource::Base64(String::new())).await;
    assert!(matches!(&empty, Err(MediaError::Invalid(why)) if why.contains("empty")), "{empty:?}");
    assert!(fx.files().is_empty());
}

#[tokio::test]
async fn a_base64_png_becomes_a_jpeg_of_at_most_1280_pixels() {
    let fx = Fixture::new(&[]).await;
    let data = format!("data:image/png;base64,{}", STANDARD.encode(png(1000, 3000)));

    let stored = ingest(&fx, MediaKind::Image, MediaSource::Base64(data)).await.unwrap();

    assert_eq!((stored.mimetype.as_str(), stored.width, stored.height), ("image/jpeg", Some(427), Some(1280)));
    let bytes = fx.media.bytes(&tenant(), &stored.id).await.unwrap().expect("stored");
    let decoded = image::load_from_memory(&bytes).expect("a JPEG that decodes");
    assert_eq!((decoded.width(), decoded.height()), (427, 1280));
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(uuid::Uuid::parse_str(&stored.id).unwrap().get_version_num(), 7);
}

#[tokio::test]
async fn an_oversized_input_is_too_large() {
    let fx = Fixture::new(&[]).await;
    let nine_mib = Bytes::from(vec![7u8; 9 * 1024 * 1024]);

    let uploaded = ingest(&fx, MediaKind::Document, upload(nine_mib.clone(), "big.bin")).await;
    let encoded = ingest(&fx, MediaKind::Document, MediaSource::Base64(STANDARD.encode(&nine_mib))).await;

    assert!(matches!(uploaded, Err(MediaError::TooLarge { limit: 8_388_608 })), "{uploaded:?}");
    assert!(matches!(encoded, Err(MediaError::TooLarge { .. })), "{encoded:?}");
    assert!(fx.files().is_empty());
}

#[tokio::test]
async fn a_sticker_is_a_512_square_webp() {
    let fx = Fixture::new(&[]).await;

    let stored = ingest(&fx, MediaKind::Sticker, upload(png(300, 120), "cat.png")).await.unwrap();

    assert_eq!((stored.mimetype.as_str(), stored.width, stored.height), ("image/webp", Some(512), Some(512)));
    let bytes = fx.media.bytes(&tenant(), &stored.id).await.unwrap().expect("stored");
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).expect("a WebP that decodes");
    assert_eq!((decoded.width(), decoded.height()), (512, 512));
}

#[tokio::test]
async fn a_file_that_is_not_its_kind_is_invalid() {
    let fx = Fixture::new(&[]).await;
    let pdf = Bytes::from_static(b"%PDF-1.7\n1 0 obj\n");

    for kind in [MediaKind::Image, MediaKind::Sticker, MediaKind::Video, MediaKind::Audio] {
        let result = ingest(&fx, kind, upload(pdf.clone(), "report.pdf")).await;
        assert!(matches!(result, Err(MediaError::Invalid(_))), "{kind}: {result:?}");
    }
    let as_document = ingest(&fx, MediaKind::Document, upload(pdf, "../../etc/report.pdf")).await.unwrap();
    assert_eq!(
        (as_document.mimetype.as_str(), as_document.filename.as_deref()),
        ("application/pdf", Some("report.pdf"))
    );
    assert_eq!(fx.files(), [as_document.id]);
}

#[tokio::test]
async fn a_video_is_kept_as_sent_with_its_duration() {
    let fx = Fixture::new(&[]).await;
    let mp4 = Bytes::from(crate::media::duration::tests::mp4(600, 4_500));

    let stored = ingest(&fx, MediaKind::Video, upload(mp4.clone(), "clip.mp4")).await.unwrap();

    assert_eq!((stored.kind, stored.mimetype.as_str(), stored.seconds), (MediaKind::Video, "video/mp4", Some(8)));
    assert_eq!(stored.filename.as_deref(), Some("clip.mp4"));
    assert_eq!(fx.media.bytes(&tenant(), &stored.id).await.unwrap(), Some(mp4), "no transcoding");
}

#[tokio::test]
async fn a_document_the_bytes_do_not_identify_keeps_the_claimed_type() {
    let fx = Fixture::new(&[]).await;
    let csv = MediaSource::Upload {
        bytes: Bytes::from_static(b"name,qty\nsoap,3\n"),
        filename: Some("order.csv".to_owned()),
        content_type: Some("text/csv".to_owned()),
    };

    let stored = ingest(&fx, MediaKind::Document, csv).await.unwrap();

    assert_eq!((stored.kind, stored.mimetype.as_str(), stored.size), (MediaKind::Document, "text/csv", 16));
    assert_eq!((stored.width, stored.thumbnail), (None, None));
}

#[tokio::test]
async fn received_media_is_put_once_under_its_message_id() {
    let fx = Fixture::new(&[]).await;
    let id = uuid::Uuid::now_v7().to_string();
    let photo = png(200, 100);

    let first = fx.media.put(&tenant(), &id, "image/png", Some("IMG-1.png"), photo.clone()).await.unwrap();
    let again = fx.media.put(&tenant(), &id, "image/png", None, Bytes::from_static(b"other")).await.unwrap();

    assert_eq!(first, again, "a second put changes nothing");
    assert_eq!((first.id.as_str(), first.kind, first.mimetype.as_str()), (id.as_str(), MediaKind::Image, "image/png"));
    assert_eq!((first.width, first.height, first.filename.as_deref()), (Some(200), Some(100), Some("IMG-1.png")));
    assert!(first.thumbnail.is_some());
    assert_eq!(fx.media.bytes(&tenant(), &id).await.unwrap(), Some(photo), "kept byte for byte");
    assert_eq!(fx.files(), [id]);
}

#[tokio::test]
async fn received_media_keeps_whatsapps_type() {
    let fx = Fixture::new(&[]).await;

    let voice = fx.media.put(&tenant(), "voice-1", "audio/ogg; codecs=opus", None, Bytes::from_static(b"OggS..")).await;

    let voice = voice.unwrap();
    assert_eq!(
        (voice.kind, voice.mimetype.as_str(), voice.thumbnail),
        (MediaKind::Audio, "audio/ogg; codecs=opus", None)
    );
}

#[tokio::test]
async fn a_media_id_that_is_no_file_name_is_refused() {
    let fx = Fixture::new(&[]).await;

    for id in ["", "../escape", "a/b", ".hidden", "x".repeat(129).as_str()] {
        let result = fx.media.put(&tenant(), id, "image/png", None, Bytes::from_static(b"x")).await;
        assert!(matches!(result, Err(MediaError::Invalid(_))), "{id:?}: {result:?}");
    }
    assert!(fx.files().is_empty());
}

#[tokio::test]
async fn other_tenants_see_nothing() {
    let fx = Fixture::new(&[]).await;
    let other = fx.db.add_tenant("acme").await;
    let stored = ingest(&fx, MediaKind::Document, upload(Bytes::from_static(b"hello"), "a.txt")).await.unwrap();

    assert_eq!(fx.media.get(&other, &stored.id).await.unwrap(), None);
    assert_eq!(fx.media.bytes(&other, &stored.id).await.unwrap(), None);
    assert_eq!(fx.media.get(&tenant(), "no-such-id").await.unwrap(), None);

    let taken = fx.media.put(&other, &stored.id, "text/plain", None, Bytes::from_static(b"overwrite")).await;
    assert!(matches!(taken, Err(MediaError::Invalid(_))), "{taken:?}");
    assert_eq!(fx.media.bytes(&tenant(), &stored.id).await.unwrap().as_deref(), Some(&b"hello"[..]));
}
