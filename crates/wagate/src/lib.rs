//! The wagate binary's library: configuration and wiring, so tests run the same server.

pub mod config;
pub mod http;
pub mod logging;
pub mod serve;

pub use config::Config;
