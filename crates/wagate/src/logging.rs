//! wagate's log: tracing's lines on stderr, filtered by the `log` option.
//!
//! whatsapp-rust writes its lines through the `log` crate; they come in through
//! [`Bridge`], which keeps linking credentials out of the log at every level but trace:
//! the pairing code it logs at INFO (`Client/PairCode`: "… Code: ABCD1234") is
//! redacted, and the protocol nodes it dumps at DEBUG (`Client/Recv`, `Client/Send`,
//! which carry the QR code's refs while a session shows one) are lowered to TRACE, the
//! level for reading the wire.

use anyhow::Context;
use tracing_log::LogTracer;
use tracing_log::log::{self, Level, LevelFilter, Log, Metadata, Record};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the log for the process: `filter` as in `WAGATE_LOG` (`info`,
/// `wagate_core=debug,info`, …), lines to `writer`.
pub fn init<W>(filter: &str, writer: W) -> anyhow::Result<()>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).context("invalid log filter")?;
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).finish();
    tracing::subscriber::set_global_default(subscriber).context("install the log")?;
    install_bridge()
}

/// Sends `log` records to tracing through [`Bridge`]; once per process.
pub fn install_bridge() -> anyhow::Result<()> {
    log::set_boxed_logger(Box::new(Bridge(LogTracer::new()))).context("install the log bridge")?;
    log::set_max_level(LevelFilter::Trace);
    Ok(())
}

/// whatsapp-rust's log targets whose lines can carry a pairing code.
const PAIR_CODE_TARGETS: [&str; 2] = ["Client/PairCode", "Bot/PairCode"];

/// whatsapp-rust's log targets that dump whole protocol nodes.
const NODE_DUMP_TARGETS: [&str; 2] = ["Client/Recv", "Client/Send"];

/// `log` to tracing, minus linking credentials.
struct Bridge(LogTracer);

impl Bridge {
    /// The level a record is told at.
    fn level(metadata: &Metadata<'_>) -> Level {
        if NODE_DUMP_TARGETS.contains(&metadata.target()) { Level::Trace } else { metadata.level() }
    }
}

impl Bridge {
    fn forward(&self, record: &Record<'_>, level: Level, args: std::fmt::Arguments<'_>) {
        self.0.log(
            &Record::builder()
                .args(args)
                .level(level)
                .target(record.target())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build(),
        );
    }
}

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let lowered = Metadata::builder().level(Self::level(metadata)).target(metadata.target()).build();
        self.0.enabled(&lowered)
    }

    fn log(&self, record: &Record<'_>) {
        let level = Self::level(record.metadata());
        if PAIR_CODE_TARGETS.contains(&record.target()) {
            let text = redact_code(&record.args().to_string());
            self.forward(record, level, format_args!("{text}"));
        } else {
            self.forward(record, level, *record.args());
        }
    }

    fn flush(&self) {}
}

/// `text` with the word after each "code: " (any case: "Code: ", "code generated: ")
/// replaced by `[redacted]`.
fn redact_code(text: &str) -> String {
    const MARK: &str = "code";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(MARK) {
        let after = from + found + MARK.len();
        // "code: X" or "code generated: X"
        let value =
            [": ", " generated: "].iter().find_map(|sep| lower[after..].starts_with(sep).then(|| after + sep.len()));
        match value {
            Some(start) => {
                let end = text[start..].find(char::is_whitespace).map_or(text.len(), |n| start + n);
                out.push_str(&text[rest..start]);
                out.push_str("[redacted]");
                rest = end;
                from = end;
            }
            None => from = after,
        }
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_code_is_redacted_wherever_whatsapp_rust_puts_it() {
        assert_eq!(
            redact_code("Stage 1 complete, waiting for phone confirmation. Code: ABCD1234"),
            "Stage 1 complete, waiting for phone confirmation. Code: [redacted]"
        );
        assert_eq!(redact_code("Pair code generated: XY7Z9QRS now"), "Pair code generated: [redacted] now");
        assert_eq!(redact_code("code: A and Code: B"), "code: [redacted] and Code: [redacted]");
    }

    #[test]
    fn lines_without_a_code_stay_as_they_are() {
        for text in ["Sent companion_finish, waiting for pair-success", "Starting pair code authentication", "code"] {
            assert_eq!(redact_code(text), text);
        }
    }

    #[test]
    fn protocol_dumps_are_told_at_trace_and_the_rest_at_their_level() {
        let dump = Metadata::builder().level(Level::Debug).target("Client/Recv").build();
        assert_eq!(Bridge::level(&dump), Level::Trace);
        let other = Metadata::builder().level(Level::Info).target("Client/PairCode").build();
        assert_eq!(Bridge::level(&other), Level::Info);
    }
}
