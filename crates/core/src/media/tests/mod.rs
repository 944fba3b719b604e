//! [`MediaStore`] as the message routes use it: a real store, a real media directory,
//! and a real local HTTP server for URLs.

mod fetching;
mod ingesting;
mod s3;

use std::net::SocketAddr;
use std::time::Duration;

use tempfile::TempDir;
use wagate_store::testing::TestStore;
use wagate_types::TenantId;

use super::{AllowList, MediaConfig, MediaStore};

/// A media store on a fresh database and directory.
struct Fixture {
    media: MediaStore,
    db: TestStore,
    dir: TempDir,
}

impl Fixture {
    /// URLs may reach `allow_networks` (the tests' server is on 127.0.0.1).
    async fn new(allow_networks: &[&str]) -> Self {
        let db = TestStore::sqlite().await;
        let dir = tempfile::tempdir().expect("media dir");
        let config = MediaConfig {
            dir: dir.path().join("media"),
            max_bytes: 8 * 1024 * 1024,
            fetch_timeout: Duration::from_millis(1500),
            allow: AllowList::parse(Vec::<String>::new(), allow_networks).expect("allow-list"),
            ..MediaConfig::default()
        };
        let media = MediaStore::new(db.store.clone(), config).expect("media store");
        Self { media, db, dir }
    }

    /// Files in the media directory.
    fn files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("media")) else { return Vec::new() };
        let mut names: Vec<String> =
            entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

/// Serves `router` on 127.0.0.1 and a free port until the test ends.
async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

/// A PNG of `width`×`height`.
fn png(width: u32, height: u32) -> bytes::Bytes {
    let picture =
        image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).expect("encode PNG");
    bytes::Bytes::from(out.into_inner())
}
