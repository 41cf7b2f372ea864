//! Log output for the binaries: `tracing` to stderr (stdout is for
//! results), text or JSON, filtered by `RUST_LOG` or `--log-level`.
//!
//! Owns subscriber set-up. Libraries never install a subscriber; only the
//! thin `main`s call [`init`].

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. `level` is used when `RUST_LOG` is unset.
/// Colours only when stderr is a terminal, and never for PID 1 (`edged
/// init`), whose terminal is the console: usually a serial line captured to
/// a file, where escape codes are noise. Journald, files and pipes get plain
/// lines.
pub fn init(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The SQL driver logs every statement at debug: keep it quieter.
        EnvFilter::new(format!("{level},sqlx=warn,hyper=info,rustls=info,h2=info"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && std::process::id() != 1)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
