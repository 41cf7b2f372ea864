//! `edged`: the Edgeplane device runtime. `edged server` runs a control-plane
//! server. Thin: parses flags, sets up logging, and runs a library role.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_runtime::config::server::ServerArgs;
use edge_runtime::logging::{self, LogFormat};
use tokio_util::sync::CancellationToken;

/// Edgeplane device runtime: a highly available Kubernetes control plane for edge boards.
#[derive(Debug, Parser)]
#[command(name = "edged", version, propagate_version = true)]
struct Cli {
    /// Log format on stderr
    #[arg(
        long,
        global = true,
        env = "EDGE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// Log level (overridden by RUST_LOG)
    #[arg(long, global = true, env = "EDGE_LOG_LEVEL", default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a server: the Kubernetes API, the supervisor and the control loops
    Server(Box<ServerArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, &cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("edged: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match cli.command {
            Command::Server(args) => {
                let config = args
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
                edge_runtime::server::run(config, shutdown, |_| {}).await?;
                Ok::<(), anyhow::Error>(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("edged: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    shutdown.cancel();
}
