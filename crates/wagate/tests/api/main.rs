//! The HTTP API as a client uses it: a real server on a free port, a fresh database per
//! test (SQLite; Postgres too when WAGATE_TEST_POSTGRES names a server), and the
//! FakeEngine standing in for WhatsApp; in `live`, the real engine against the sandbox.

mod auth;
mod auto_replies;
mod campaign_progress;
mod campaigns;
mod chats;
mod clock;
mod contacts;
mod events;
mod helpers;
mod http_limits;
mod kinds;
mod live;
mod media_urls;
mod messages;
mod openapi;
mod opt_ins;
mod pacing;
mod qr_stream;
mod received;
mod sessions;
mod shutdown;
mod status;
mod storage;
mod streams;
mod typing;
mod validation;
mod webhooks;
