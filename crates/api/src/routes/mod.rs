//! Routes by feature. Each handler carries its OpenAPI description.

mod health;
mod messages;
mod qr_image;
mod sessions;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wagate_core::Gateway;

/// Routes anyone may call.
pub fn public() -> OpenApiRouter<Arc<Gateway>> {
    OpenApiRouter::new().routes(routes!(health::health))
}

/// Routes that need an API key.
pub fn protected() -> OpenApiRouter<Arc<Gateway>> {
    OpenApiRouter::new()
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::get, sessions::update, sessions::delete))
        .routes(routes!(sessions::qr))
        .routes(routes!(sessions::qr_png))
        .routes(routes!(sessions::qr_svg))
        .routes(routes!(sessions::pair_code))
        .routes(routes!(sessions::restart))
        .routes(routes!(sessions::logout))
        .routes(routes!(messages::send, messages::list))
        .routes(routes!(messages::get, messages::cancel))
        .routes(routes!(messages::resend))
}
