//! Routes by feature. Each handler carries its OpenAPI description.

mod campaigns;
mod chats;
mod contacts;
mod event_stream;
mod events;
mod group_picture;
mod groups;
mod health;
mod media;
mod messages;
mod opt_ins;
mod params;
mod presence;
mod qr_image;
mod queue;
mod send_body;
mod send_form;
mod session_settings;
mod sessions;
mod status;
mod suppressions;
mod webhooks;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wagate_core::Gateway;
use wagate_core::message_view;

/// Largest body of `POST /messages`: a 64 MiB file in base64, with room to spare.
pub const MAX_SEND_BODY: usize = 100 * 1024 * 1024;

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
        .routes(routes!(queue::get))
        .routes(routes!(opt_ins::list, opt_ins::set_many))
        .routes(routes!(opt_ins::get, opt_ins::set))
        .routes(routes!(campaigns::create, campaigns::list))
        .routes(routes!(campaigns::get))
        .routes(routes!(campaigns::pause))
        .routes(routes!(campaigns::resume))
        .routes(routes!(campaigns::cancel))
        .routes(routes!(campaigns::recipients))
        .routes(routes!(suppressions::list))
        .routes(routes!(suppressions::get, suppressions::put, suppressions::delete))
        .merge(
            // Files come in the body (base64 or uploaded), so sends may be larger than
            // other requests; the media store enforces its own limit on the file.
            OpenApiRouter::new()
                .routes(routes!(messages::send, messages::list))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_SEND_BODY)),
        )
        .routes(routes!(messages::get, messages::cancel, messages::edit))
        .routes(routes!(messages::resend))
        .routes(routes!(messages::revoke))
        .merge(
            // A picture or video status comes in the body like a file to send.
            OpenApiRouter::new()
                .routes(routes!(status::post))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_SEND_BODY)),
        )
        .routes(routes!(media::get))
        .routes(routes!(contacts::check))
        .routes(routes!(contacts::list))
        .routes(routes!(contacts::export))
        .routes(routes!(contacts::get))
        .routes(routes!(contacts::picture))
        .routes(routes!(presence::set_own))
        .routes(routes!(presence::follow))
        .routes(routes!(presence::get))
        .routes(routes!(events::list))
        .routes(routes!(event_stream::sse))
        .routes(routes!(event_stream::ws))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::dead_letters))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::replay))
        .routes(routes!(chats::list))
        .routes(routes!(chats::read))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::join))
        .routes(routes!(groups::get, groups::update))
        .routes(routes!(groups::participants))
        .routes(routes!(groups::invite))
        .routes(routes!(groups::revoke_invite))
        .routes(routes!(groups::leave))
        .merge(
            // A picture may come in the body as base64.
            OpenApiRouter::new()
                .routes(routes!(group_picture::get, group_picture::set, group_picture::remove))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_SEND_BODY)),
        )
}
