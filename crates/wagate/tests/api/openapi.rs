use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every (method, path) the OpenAPI document describes.
pub fn documented_operations() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(wagate_api::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.push((method.to_uppercase().parse().unwrap(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_is_openapi_3_and_describes_the_contract() {
    let doc = serde_json::to_value(wagate_api::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "OpenAPI 3.x");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for expected in [
        "/api/v1/health",
        "/api/v1/sessions",
        "/api/v1/sessions/{name}",
        "/api/v1/sessions/{name}/qr",
        "/api/v1/sessions/{name}/qr.png",
        "/api/v1/sessions/{name}/qr.svg",
        "/api/v1/sessions/{name}/pair-code",
        "/api/v1/sessions/{name}/restart",
        "/api/v1/sessions/{name}/logout",
        "/api/v1/messages",
        "/api/v1/messages/{id}",
        "/api/v1/messages/{id}/resend",
    ] {
        assert!(paths.iter().any(|p| *p == expected), "{expected} is documented");
    }
    // Every operation documents its problem answers with the shared schema.
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Received messages show who wrote them.
    // The message's own fields, beside its content (an `allOf` of the two).
    let parts = doc["components"]["schemas"]["Message"]["allOf"].as_array().expect("Message is an allOf");
    let message =
        &parts.iter().find(|p| p["properties"]["from"].is_object()).expect("the message's fields")["properties"];
    let content = &doc["components"]["schemas"]["MessageContent"]["properties"];
    for kind in ["image", "video", "audio", "document", "sticker", "location", "contact", "poll", "reaction"] {
        assert!(content[kind].is_object(), "{kind} is described");
    }
    assert!(content["reply_to"].is_object() && content["reactions"].is_object() && content["revoked_at"].is_object());
    assert!(message["from"].is_object() && message["push_name"].is_object(), "{message}");
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

/// The served routes and the document match: each documented operation is routed,
/// and on each documented path the methods it does not document answer 405.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let app = spawn_app().await;
    let doc = serde_json::to_value(wagate_api::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{name}", "nosuchsession").replace("{id}", "01900000-0000-7000-8000-000000000000");
        for method in METHODS {
            let response = app.request(method.to_uppercase().parse().unwrap(), &concrete).send().await.unwrap();
            let status = response.status();
            // A live event stream never ends: its headers are answer enough.
            let streaming = response.headers().get("content-type").is_some_and(|t| t == "text/event-stream");
            let body: Value = if streaming { Value::Null } else { response.json().await.unwrap_or(Value::Null) };
            if item.get(method).is_some() {
                assert_ne!(body["code"], "no_route", "{method} {path} is documented but not routed");
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not routed");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed but not documented");
            }
        }
    }
    // Outside the document: only the docs UI and the document itself.
    let unknown = app.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "no_route");
}
