//! Migrations run at start; several nodes may start at once against one Postgres.

use sqlx::Connection;
use wagate_store::Store;
use wagate_store::testing::TestDatabase;

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { Store::connect(&url).await })
        })
        .collect();
    for node in nodes {
        let store = node.await.unwrap().expect("every node starts");
        store.ping().await.unwrap();
        store.close().await;
    }
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")).unwrap().count();
    assert_eq!(n, files as i64, "each migration ran once");
}

#[tokio::test]
async fn starting_twice_on_sqlite_is_a_no_op() {
    let database = TestDatabase::sqlite();
    Store::connect(&database.url).await.unwrap().close().await;
    let store = Store::connect(&database.url).await.unwrap();
    store.ping().await.unwrap();
}
