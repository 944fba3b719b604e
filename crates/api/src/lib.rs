//! wagate's HTTP API under `/api/v1`: routes by feature, problem+json errors, and an
//! OpenAPI document generated from the same handlers that serve the routes.

mod auth;
mod error;
mod extract;
mod routes;
mod time_format;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;
use wagate_core::Gateway;

pub use error::{ApiError, FieldError, Problem};

/// Largest JSON body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wagate",
        description = "Self-hosted WhatsApp gateway: sessions (linked numbers), durable throttled sending, status tracking.\n\nAuthenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`. Errors are RFC 9457 problem details.",
        license(name = "AGPL-3.0-only")
    ),
    modifiers(&Security),
    security(("api_key" = []), ("bearer" = [])),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "health", description = "Liveness"),
        (name = "sessions", description = "Linked WhatsApp numbers"),
        (name = "messages", description = "Sending and tracking messages"),
        (name = "contacts", description = "Who is on WhatsApp, and the people sessions talk with"),
        (name = "chats", description = "A session's conversations, and marking them read"),
        (name = "webhooks", description = "Endpoints that get the event log, signed and retried from the database"),
        (name = "campaigns", description = "One message to many recipients, spread over sessions, with progress"),
        (name = "opt-in", description = "Contacts' consent to get messages, with its audit trail, and the suppression list"),
        (name = "groups", description = "WhatsApp groups, managed live through a connected session"),
        (name = "events", description = "What happened, in order: received messages, reactions, votes, edits, group changes, opt-ins"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and the OpenAPI document describing exactly them.
fn parts(gateway: Arc<Gateway>) -> (Router<Arc<Gateway>>, utoipa::openapi::OpenApi) {
    let protected = routes::protected().route_layer(middleware::from_fn_with_state(gateway, auth::require_key));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::public()).merge(protected).split_for_parts()
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    // The document does not depend on the gateway's state; building the routes needs
    // one only for the auth layer, which the document does not see.
    OpenApiRouter::<Arc<Gateway>>::with_openapi(ApiDoc::openapi())
        .merge(routes::public())
        .merge(routes::protected())
        .into_openapi()
}

/// The whole HTTP application.
pub fn app(gateway: Arc<Gateway>) -> Router {
    let (api, doc) = parts(gateway.clone());
    api.merge(SwaggerUi::new("/docs").url(OPENAPI_PATH, doc))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "no such route; the API lives under /api/v1, documented at /docs",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that HTTP method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(gateway)
}
