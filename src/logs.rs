//! Log lines on stderr, and the one rule they keep whatever filter the operator sets: no secret
//! reaches them.
//!
//! vroom's own events never carry a secret (credentials, access tokens and session keys are not
//! logged at any level). Some libraries below it log what passes through them: at `trace` the
//! WebSocket library prints every frame, the `connect` message and its access token included, and
//! the HTTP libraries print what they parse. Their `debug` and `trace` events are dropped by a
//! filter that sits after the operator's (`RUST_LOG` or `log_level`), so no directive can bring them
//! back; their `info` and above (connection failures) still come through.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
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

/// How long an `info` (or quieter) line may wait in memory before it is written.
const GATHER_FOR: Duration = Duration::from_millis(10);
/// Gathered bytes past which the lines are written at once.
const GATHER_AT_MOST: usize = 64 * 1024;

/// Where log lines go: stderr, with the lines below `WARN` gathered and written together every
/// [`GATHER_FOR`] by a thread of their own. One `write` to stderr per line was 4–5 % of the
/// server's CPU at 1,000 joins/s and under REST creates (each join, leave and create logs a line;
/// BENCHMARKS.md). Warnings and errors are written at once, after what was gathered, so the
/// lines keep their order and the ones an operator needs most are never held back; what a
/// `SIGKILL` can lose is the last few milliseconds of `info` lines.
#[derive(Clone, Default)]
struct Gathered {
    lines: Arc<Mutex<Vec<u8>>>,
    /// Every line written at once (when the thread that writes gathered lines could not start).
    at_once: bool,
}

impl Gathered {
    fn lines(&self) -> MutexGuard<'_, Vec<u8>> {
        // Whole lines only are appended: what a panic left is still lines.
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes what was gathered (a failed write to stderr has nowhere to be told).
    fn flush(&self) {
        write_out(&mut self.lines());
    }
}

fn write_out(lines: &mut Vec<u8>) {
    if !lines.is_empty() {
        let _ = std::io::stderr().write_all(lines);
        lines.clear();
        lines.shrink_to(GATHER_AT_MOST);
    }
}

/// One line's writer: `now` for warnings and errors.
struct LineWriter<'a> {
    gathered: &'a Gathered,
    now: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.gathered.lines();
        lines.extend_from_slice(buf);
        if self.now || lines.len() >= GATHER_AT_MOST {
            write_out(&mut lines);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Gathered {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            gathered: self,
            now: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        LineWriter {
            gathered: self,
            now: self.at_once || *meta.level() <= Level::WARN,
        }
    }
}

/// Writes the gathered log lines when dropped (keep it until the process ends).
#[must_use = "the last log lines are written when the guard drops"]
pub struct LogGuard(Gathered);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Installs the process's logger: `filter` (an `EnvFilter` directive list) then [`may_write`], to
/// stderr as text or JSON lines (see [`Gathered`]). A panic writes the gathered lines first.
pub fn init(filter: tracing_subscriber::EnvFilter, format: LogFormat) -> LogGuard {
    let gathered = Gathered::default();
    let flusher = gathered.clone();
    let started = std::thread::Builder::new()
        .name("vroom-logs".into())
        .spawn(move || {
            loop {
                std::thread::sleep(GATHER_FOR);
                flusher.flush();
            }
        });
    let gathered = Gathered {
        // Without the thread nothing would write gathered lines: every line at once then.
        at_once: started.is_err(),
        ..gathered
    };
    let on_panic = gathered.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        on_panic.flush();
        previous(info);
    }));
    let safe = tracing_subscriber::filter::filter_fn(|m| may_write(m.target(), *m.level()));
    let fmt = tracing_subscriber::fmt::layer().with_writer(gathered.clone());
    let layer = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(safe))
        .init();
    LogGuard(gathered)
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
