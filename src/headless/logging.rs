//! Logging for operator mode: human-readable on a terminal, one JSON object per line with `--log-format json`
//! (what log collectors in a cluster expect), and a level that can change while the process runs.
//!
//! The run-time change goes through the HTTP server: `PUT /loglevel` with a filter in the body (`debug`,
//! `info,dbdeck=trace`, any `RUST_LOG` syntax) swaps the filter through a `reload` layer; `GET /loglevel` shows
//! the current one. An HTTP route rather than a signal, because `kubectl port-forward` + `curl` reaches it on a
//! pod without a shell, and it can set any level instead of cycling through a few.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal)
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("log level {given:?} is not a valid filter (e.g. `info`, `debug`, `info,dbdeck=trace`): {reason}")]
    Filter { given: String, reason: String },
    #[error("a logger is already installed in this process")]
    AlreadyInstalled,
    #[error("cannot change the log level: {0}")]
    Reload(String),
}

/// Changes the level of the installed logger.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    current: Arc<Mutex<String>>,
}

impl LogControl {
    /// The filter in force, as it was given.
    pub fn current(&self) -> String {
        self.current.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Replaces the filter; an invalid one is refused and the old one stays.
    pub fn set(&self, directives: &str) -> Result<(), LoggingError> {
        let directives = directives.trim();
        let filter = parse(directives)?;
        self.handle.reload(filter).map_err(|e| LoggingError::Reload(e.to_string()))?;
        if let Ok(mut c) = self.current.lock() {
            *c = directives.to_string();
        }
        tracing::info!(filter = directives, "log level changed");
        Ok(())
    }
}

fn parse(directives: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::builder()
        .parse(directives)
        .map_err(|e| LoggingError::Filter { given: directives.to_string(), reason: e.to_string() })
}

/// The filter to start with: `--log-level`, else `$RUST_LOG`, else `info`.
pub fn initial_directives(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "info".to_string())
}

/// A reloadable filter layer and its control, without installing anything (the tests use this).
pub fn reloadable(directives: &str) -> Result<(reload::Layer<EnvFilter, Registry>, LogControl), LoggingError> {
    let (layer, handle) = reload::Layer::new(parse(directives)?);
    Ok((layer, LogControl { handle, current: Arc::new(Mutex::new(directives.to_string())) }))
}

/// Installs the process-wide logger on stderr.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<LogControl, LoggingError> {
    let directives = initial_directives(level);
    let (filter, control) = reloadable(&directives)?;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(Bounded),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(Bounded))
            .try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(control)
}

/// Longest log line written. A library may log a whole response body as one line (kube's client does when
/// a response does not decode: megabytes per failed list); such a line is cut, not written whole.
pub const MAX_LINE: usize = 4096;
/// Longest string value kept in a JSON line that had to be cut.
const MAX_JSON_STRING: usize = 512;

/// stderr, one bounded line per event (the fmt layer writes each event with one `write`).
struct Bounded;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Bounded {
    type Writer = BoundedWriter;
    fn make_writer(&'a self) -> BoundedWriter {
        BoundedWriter(std::io::stderr())
    }
}

struct BoundedWriter(std::io::Stderr);

impl std::io::Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() <= MAX_LINE {
            self.0.write_all(buf)?;
        } else {
            self.0.write_all(&bound_line(buf))?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `line` within [`MAX_LINE`]: a JSON line stays one JSON object with its long strings shortened; text is cut
/// and says how much was left out.
pub fn bound_line(line: &[u8]) -> Vec<u8> {
    if line.len() <= MAX_LINE {
        return line.to_vec();
    }
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(line) {
        shorten(&mut v);
        if let Ok(mut out) = serde_json::to_vec(&v)
            && out.len() <= MAX_LINE
        {
            out.push(b'\n');
            return out;
        }
    }
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\n');
    let mut end = MAX_LINE - 64;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)\n", &text[..end], text.len() - end).into_bytes()
}

fn shorten(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) if s.len() > MAX_JSON_STRING => {
            let mut end = MAX_JSON_STRING;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            *s = format!("{}… ({} bytes cut)", &s[..end], s.len() - end);
        }
        Value::Object(m) => m.values_mut().for_each(shorten),
        Value::Array(a) => a.iter_mut().for_each(shorten),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::Layer;

    #[test]
    fn the_level_changes_at_run_time_and_a_bad_filter_is_refused() {
        let (layer, control) = reloadable("info").unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(tracing::Level::DEBUG));
            control.set("debug").unwrap();
            assert!(tracing::enabled!(tracing::Level::DEBUG));
            assert_eq!(control.current(), "debug");
            let err = control.set("dbdeck=loud").unwrap_err().to_string();
            assert!(err.contains("dbdeck=loud"), "{err}");
            assert_eq!(control.current(), "debug");
            assert!(tracing::enabled!(tracing::Level::DEBUG));
        });
        let (layer, _) = reloadable("warn").unwrap();
        assert_eq!(layer.max_level_hint(), Some(LevelFilter::WARN));
    }

    #[test]
    fn the_flag_wins_over_the_default() {
        assert_eq!(initial_directives(Some(" debug ")), "debug");
    }
}
