//! Migrations run at start; several nodes may start at once against one Postgres.

use sqlx::{Connection, Executor};
use wagate_store::Store;

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Ok(server) = std::env::var("WAGATE_TEST_POSTGRES") else {
        eprintln!("WAGATE_TEST_POSTGRES is not set: this runs on Postgres only");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("wagate_migrate_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::AnyConnection::connect(&server).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);

    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect(&url).await })
        })
        .collect();
    for node in nodes {
        let store = node.await.unwrap().expect("every node starts");
        store.ping().await.unwrap();
        store.close().await;
    }
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    assert_eq!(n, 2, "each migration ran once");
}

#[tokio::test]
async fn starting_twice_on_sqlite_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
    Store::connect(&url).await.unwrap().close().await;
    let store = Store::connect(&url).await.unwrap();
    store.ping().await.unwrap();
}
