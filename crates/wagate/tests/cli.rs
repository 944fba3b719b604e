//! The `wagate` command line, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn wagate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(args)
        .current_dir(dir)
        .env_remove("WAGATE_API_KEY")
        .env("WAGATE_DATA_DIR", dir.join("data"))
        .output()
        .expect("run wagate")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let key = stdout(&wagate(dir.path(), &["keys", "create", "--name", "shop"])).trim().to_owned();
    assert!(key.starts_with("wag_") && key.len() == 52, "{key}");
    let list = stdout(&wagate(dir.path(), &["keys", "list"]));
    let prefix = &key[..12];
    assert!(list.contains(prefix) && list.contains("shop") && list.contains("active"), "{list}");
    assert!(!list.contains(&key), "a list never shows the secret");
    stdout(&wagate(dir.path(), &["keys", "revoke", prefix]));
    assert!(stdout(&wagate(dir.path(), &["keys", "list"])).contains("revoked"));
    let again = wagate(dir.path(), &["keys", "revoke", prefix]);
    assert!(!again.status.success(), "revoking twice says there is no active key");
}

#[test]
fn migrate_creates_the_database_and_openapi_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    assert!(stdout(&wagate(dir.path(), &["migrate"])).contains("up to date"));
    assert!(dir.path().join("data/wagate.db").exists());
    let doc: serde_json::Value = serde_json::from_str(&stdout(&wagate(dir.path(), &["openapi"]))).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(stdout(&wagate(dir.path(), &["--version"])).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_configuration_stops_the_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env("WAGATE_DEFAULT_COUNTRY", "Narnia")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("default_country"));
}
