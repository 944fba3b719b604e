//! Media by URL: fetched from an allow-listed local server; refused when the URL, or a
//! redirect, leads somewhere private; cut off when too large or too slow.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::AsyncReadExt;

use super::{Fixture, png, serve, tenant};
use crate::media::{ImagePolicy, MediaError, MediaKind, MediaSource};

const HUGE: u64 = 200 * 1024 * 1024;

/// 200 MB of zeros, made while sent and never held.
fn huge_body() -> Body {
    Body::from_stream(tokio_util::io::ReaderStream::new(tokio::io::repeat(0).take(HUGE)))
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn server() -> SocketAddr {
    let router = axum::Router::new()
        .route("/photos/sea%20view.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], png(1600, 900)) }))
        .route("/report.pdf", get(|| async { ([(header::CONTENT_TYPE, "application/pdf")], &b"%PDF-1.7\n%..."[..]) }))
        .route("/huge", get(|| async { huge_body() }))
        .route("/huge-announced", get(|| async { ([(header::CONTENT_LENGTH, HUGE.to_string())], huge_body()) }))
        .route("/to-metadata", get(|| async { redirect("http://169.254.169.254/latest/meta-data/".to_owned()) }))
        .route("/to-loopback", get(|| async { redirect("http://127.0.0.2/admin".to_owned()) }))
        .route("/to-photo", get(|| async { redirect("/photos/sea%20view.png".to_owned()) }))
        .route("/loop", get(|| async { redirect("/loop".to_owned()) }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        );
    serve(router).await
}

async fn ingest_url(fx: &Fixture, kind: MediaKind, url: String) -> Result<crate::media::StoredMedia, MediaError> {
    fx.media.ingest(&tenant(), kind, MediaSource::Url(url), &ImagePolicy::default()).await
}

#[tokio::test]
async fn a_picture_from_an_allow_listed_server_is_fetched_and_reencoded() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let stored = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/to-photo")).await.unwrap();

    assert_eq!((stored.kind, stored.mimetype.as_str()), (MediaKind::Image, "image/jpeg"));
    assert_eq!((stored.width, stored.height), (Some(1280), Some(720)));
    assert!(stored.thumbnail.is_some());
    assert_eq!(fx.files(), std::slice::from_ref(&stored.id));
    let bytes = fx.media.bytes(&tenant(), &stored.id).await.unwrap().expect("stored bytes");
    assert_eq!(bytes.len() as u64, stored.size);
    assert_eq!(fx.media.get(&tenant(), &stored.id).await.unwrap(), Some(stored));
}

#[tokio::test]
async fn a_document_keeps_the_name_from_its_url() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let stored = ingest_url(&fx, MediaKind::Document, format!("http://{addr}/report.pdf?v=2")).await.unwrap();

    assert_eq!((stored.mimetype.as_str(), stored.filename.as_deref()), ("application/pdf", Some("report.pdf")));
}

#[tokio::test]
async fn a_private_server_is_refused_without_the_allow_list() {
    let addr = server().await;
    let fx = Fixture::new(&[]).await;
    let port = addr.port();

    for url in [
        format!("http://{addr}/photos/sea%20view.png"),
        format!("http://localhost:{port}/photos/sea%20view.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/photos/sea%20view.png"),
        format!("http://[::1]:{port}/"),
        "http://10.0.0.1/x.png".to_owned(),
        "http://172.16.5.4/x.png".to_owned(),
        "http://192.168.0.10/x.png".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "file:///etc/passwd".to_owned(),
        "ftp://example.com/x.png".to_owned(),
    ] {
        let result = ingest_url(&fx, MediaKind::Image, url.clone()).await;
        assert!(matches!(result, Err(MediaError::Refused(_))), "{url}: {result:?}");
    }
    assert!(fx.files().is_empty());
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let metadata = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/to-metadata")).await;
    // Loopback, but not the one allow-listed address.
    let loopback = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/to-loopback")).await;

    assert!(matches!(&metadata, Err(MediaError::Refused(why)) if why.contains("169.254.169.254")), "{metadata:?}");
    assert!(matches!(&loopback, Err(MediaError::Refused(why)) if why.contains("127.0.0.2")), "{loopback:?}");
    assert!(fx.files().is_empty());
}

#[tokio::test]
async fn a_huge_body_is_refused_while_streaming() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    for path in ["huge", "huge-announced"] {
        let result = ingest_url(&fx, MediaKind::Document, format!("http://{addr}/{path}")).await;
        assert!(matches!(result, Err(MediaError::TooLarge { limit: 8_388_608 })), "{path}: {result:?}");
    }
    assert!(fx.files().is_empty(), "nothing written to the media directory");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let result = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/slow")).await;

    assert!(matches!(&result, Err(MediaError::Unreachable(why)) if why.contains("did not finish")), "{result:?}");
}

#[tokio::test]
async fn errors_and_redirect_loops_are_unreachable() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let missing = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/missing")).await;
    let looping = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/loop")).await;
    let closed = ingest_url(&fx, MediaKind::Image, "http://127.0.0.1:9/nothing-listens".to_owned()).await;
    // The test server speaks plain HTTP, so the TLS handshake fails.
    let not_tls = ingest_url(&fx, MediaKind::Image, format!("https://{addr}/photos/sea%20view.png")).await;

    assert!(matches!(&missing, Err(MediaError::Unreachable(why)) if why.contains("404")), "{missing:?}");
    assert!(matches!(&looping, Err(MediaError::Unreachable(why)) if why.contains("redirects")), "{looping:?}");
    assert!(matches!(&closed, Err(MediaError::Unreachable(_))), "{closed:?}");
    assert!(matches!(&not_tls, Err(MediaError::Unreachable(why)) if why.contains("TLS")), "{not_tls:?}");
    assert!(matches!(ingest_url(&fx, MediaKind::Image, "not a url".to_owned()).await, Err(MediaError::Invalid(_))));
}

#[tokio::test]
async fn a_document_fetched_as_an_image_is_invalid() {
    let addr = server().await;
    let fx = Fixture::new(&["127.0.0.1/32"]).await;

    let result = ingest_url(&fx, MediaKind::Image, format!("http://{addr}/report.pdf")).await;

    assert!(matches!(result, Err(MediaError::Invalid(_))), "{result:?}");
    assert!(fx.files().is_empty());
}
