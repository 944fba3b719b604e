use reqwest::{Method, StatusCode};
use serde_json::json;
use wagate_types::TenantId;

use crate::helpers::{assert_problem, spawn_app};
use crate::openapi::documented_operations;

#[tokio::test]
async fn every_route_but_health_and_docs_needs_a_key() {
    let app = spawn_app().await;
    let before = app.snapshot().await;
    for (method, path) in documented_operations() {
        let path = path.replace("{name}", "default").replace("{id}", "01900000-0000-7000-8000-000000000000");
        let response = app.anonymous(method.clone(), &path).json(&json!({})).send().await.unwrap();
        if path == "/api/v1/health" {
            assert_eq!(response.status(), StatusCode::OK);
            continue;
        }
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let response =
            app.anonymous(method.clone(), &path).header("X-API-Key", "wag_not_a_real_key_000000").send().await.unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let response = app.anonymous(method, &path).bearer_auth("wag_not_a_real_key_000000").send().await.unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(app.snapshot().await, before, "refused requests changed the database");
}

#[tokio::test]
async fn health_docs_and_openapi_are_public() {
    let app = spawn_app().await;
    let health: serde_json::Value =
        app.anonymous(Method::GET, "/api/v1/health").send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let docs = app.anonymous(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"), "docs page is Swagger UI");
    let openapi = app.anonymous(Method::GET, "/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(openapi.status(), StatusCode::OK);
}

#[tokio::test]
async fn bearer_and_header_keys_both_work() {
    let app = spawn_app().await;
    let by_header =
        app.anonymous(Method::GET, "/api/v1/sessions").header("X-API-Key", crate::helpers::KEY).send().await.unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let by_bearer =
        app.anonymous(Method::GET, "/api/v1/sessions").bearer_auth(crate::helpers::KEY).send().await.unwrap();
    assert_eq!(by_bearer.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = spawn_app().await;
    let created = app.gateway.auth.create(TenantId::default_tenant(), "ci", "admin").await.unwrap();
    app.gateway
        .store
        .revoke_api_key(&TenantId::default_tenant(), &created.record.prefix, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let response = app.anonymous(Method::GET, "/api/v1/sessions").bearer_auth(&created.secret).send().await.unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_new_key_works_at_once() {
    let app = spawn_app().await;
    let created = app.gateway.auth.create(TenantId::default_tenant(), "ci", "admin").await.unwrap();
    assert!(created.secret.starts_with("wag_"));
    let response = app.anonymous(Method::GET, "/api/v1/sessions").bearer_auth(&created.secret).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
