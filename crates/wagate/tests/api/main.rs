//! The HTTP API as a client uses it: a real server on a free port, a fresh database per
//! test (SQLite; Postgres too when WAGATE_TEST_POSTGRES names a server), and the
//! FakeEngine standing in for WhatsApp; in `live`, the real engine against the sandbox.

mod auth;
mod helpers;
mod live;
mod messages;
mod openapi;
mod sessions;
mod shutdown;
mod validation;
