//! Media kept in S3-compatible storage: a local stand-in for S3 that keeps objects in
//! memory and refuses requests not presigned with SigV4 for the right access key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use wagate_store::testing::TestStore;

use super::{png, serve, tenant};
use crate::media::{ImagePolicy, MediaConfig, MediaError, MediaKind, MediaSource, MediaStore, S3Config};

const ACCESS_KEY: &str = "AKIAWAGATETEST";

type Objects = Arc<Mutex<HashMap<String, Bytes>>>;

/// `PUT`, `GET` and `DELETE` of `/{bucket}/{key}`, path-style, like MinIO.
async fn object(
    State(objects): State<Objects>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let presigned = query.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256")
        && query.contains(&format!("X-Amz-Credential={ACCESS_KEY}%2F"))
        && query.contains("X-Amz-Signature=");
    if !presigned {
        return (StatusCode::FORBIDDEN, "<Error><Code>AccessDenied</Code></Error>").into_response();
    }
    let mut objects = objects.lock().unwrap();
    match method {
        Method::PUT => {
            objects.insert(path, body);
            StatusCode::OK.into_response()
        }
        Method::GET => match objects.get(&path) {
            Some(bytes) => bytes.clone().into_response(),
            None => (StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response(),
        },
        Method::DELETE => {
            objects.remove(&path);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

async fn s3() -> (std::net::SocketAddr, Objects) {
    let objects = Objects::default();
    let router = axum::Router::new().route("/{*path}", axum::routing::any(object)).with_state(objects.clone());
    (serve(router).await, objects)
}

async fn store_on(addr: std::net::SocketAddr, access_key: &str) -> (MediaStore, TestStore, tempfile::TempDir) {
    let db = TestStore::sqlite().await;
    let dir = tempfile::tempdir().expect("media dir");
    let config = MediaConfig {
        dir: dir.path().join("media"),
        fetch_timeout: Duration::from_millis(1500),
        s3: Some(S3Config {
            endpoint: format!("http://{addr}").parse().unwrap(),
            bucket: "media".into(),
            region: "us-east-1".into(),
            access_key: access_key.into(),
            secret_key: "not-so-secret".into(),
            path_style: true,
            prefix: "wagate/".into(),
        }),
        ..MediaConfig::default()
    };
    (MediaStore::new(db.store.clone(), config).expect("media store"), db, dir)
}

#[tokio::test]
async fn files_go_to_the_bucket_and_come_back_the_same() {
    let (addr, objects) = s3().await;
    let (media, _db, dir) = store_on(addr, ACCESS_KEY).await;
    let data = STANDARD.encode(png(300, 200));

    let stored =
        media.ingest(&tenant(), MediaKind::Image, MediaSource::Base64(data), &ImagePolicy::default()).await.unwrap();

    let key = format!("media/wagate/{}", stored.id);
    let kept = objects.lock().unwrap().get(&key).cloned().expect("the object is in the bucket");
    assert_eq!(hex::encode(Sha256::digest(&kept)), stored.sha256);
    assert_eq!(media.bytes(&tenant(), &stored.id).await.unwrap(), Some(kept));
    assert!(!dir.path().join("media").exists(), "nothing on local disk");

    // Received media is put under its message's id, in the bucket too.
    let voice = Bytes::from_static(b"OggS\0\x02 a voice note");
    let put = media.put(&tenant(), "01a20000-0000-7000-8000-000000000001", "audio/ogg", None, voice.clone()).await;
    put.expect("received media kept");
    assert!(objects.lock().unwrap().contains_key("media/wagate/01a20000-0000-7000-8000-000000000001"));
    assert_eq!(media.bytes(&tenant(), "01a20000-0000-7000-8000-000000000001").await.unwrap(), Some(voice));
}

#[tokio::test]
async fn a_bucket_that_refuses_stores_nothing_and_a_missing_object_is_none() {
    let (addr, objects) = s3().await;
    let (media, _db, dir) = store_on(addr, "AKIAWRONGKEY").await;
    let data = STANDARD.encode(png(30, 20));
    let refused = media.ingest(&tenant(), MediaKind::Image, MediaSource::Base64(data), &ImagePolicy::default()).await;
    assert!(matches!(refused, Err(MediaError::Internal(_))), "{refused:?}");
    assert!(objects.lock().unwrap().is_empty());
    assert!(!dir.path().join("media").exists());

    let (_, _db, _dir) = store_on(addr, ACCESS_KEY).await;
    let config = S3Config {
        endpoint: format!("http://{addr}").parse().unwrap(),
        bucket: "media".into(),
        region: "us-east-1".into(),
        access_key: ACCESS_KEY.into(),
        secret_key: "not-so-secret".into(),
        path_style: true,
        prefix: String::new(),
    };
    let blobs = crate::media::s3::S3Blobs::new(&config, 1024).unwrap();
    assert_eq!(blobs.read("nothing-here").await.unwrap(), None);
    blobs.remove("nothing-here").await.expect("removing what is not there is fine");
    blobs.write("big", Bytes::from(vec![1u8; 2048])).await.unwrap();
    assert!(blobs.read("big").await.is_err(), "an object over the limit is not read whole");
}
