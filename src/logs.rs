//! Log lines on stderr, and the one rule they keep whatever filter the operator sets: no secret
//! reaches them.
//!
//! vroom's own events never carry a secret (credentials, access tokens and session keys are not
//! logged at any level). Some libraries below it log what passes through them: at `trace` the
//! WebSocket library prints every frame, the `connect` message and its access token included, and
//! the HTTP libraries print what they parse. Their `debug` and `trace` events are dropped by a
//! filter that sits after the operator's (`RUST_LOG` or `log_level`), so no directive can bring them
//! back; their `info` and above (connection failures) still come through.

use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::LogFormat;

/// Libraries (log targets, with their modules) whose `debug`/`trace` events may quote message
/// contents: frames, headers, bodies.
const QUOTING_TARGETS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
];

/// Whether an event of `target` at `level` may be written: not when it comes from a library that
/// quotes message contents at that level.
#[must_use]
pub fn may_write(target: &str, level: Level) -> bool {
    if level <= Level::INFO {
        return true;
    }
    !QUOTING_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Installs the process's logger: `filter` (an `EnvFilter` directive list) then [`may_write`], to
/// stderr as text or JSON lines.
pub fn init(filter: tracing_subscriber::EnvFilter, format: LogFormat) {
    let safe = tracing_subscriber::filter::filter_fn(|m| may_write(m.target(), *m.level()));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(safe))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_libraries_are_kept_to_info() {
        assert!(!may_write("tungstenite::protocol", Level::TRACE));
        assert!(!may_write("tungstenite", Level::DEBUG));
        assert!(!may_write("hyper::proto::h1::role", Level::TRACE));
        assert!(may_write("tungstenite::protocol", Level::INFO));
        assert!(may_write("hyper", Level::WARN));
        assert!(may_write("hyperloop", Level::TRACE));
        assert!(may_write("vroom_signaling::conn", Level::TRACE));
    }
}
