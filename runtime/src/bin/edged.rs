//! `edged`: the Edgeplane device runtime. `edged server` runs a control-plane
//! server; `edged agent` a worker node that joins through the fixed
//! registration address; `edged init` boots a device (PID 1). Thin: parses flags, sets up
//! logging, and runs a library role.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use edge_config::agent::AgentArgs;
use edge_config::server::ServerArgs;
use edge_runtime::boot::{self, layout::Layout, rootdir::RootDir, system::Linux};
use edge_runtime::logging::{self, LogFormat};
use tokio_util::sync::CancellationToken;

/// Edgeplane device runtime: a highly available Kubernetes control plane for edge boards.
/// The version, findable in the binary's bytes: `edge-image` records what
/// an image carries without running a binary built for another architecture.
#[used]
static VERSION_MARKER: &str = concat!(
    "edgeplane-runtime-version=",
    env!("CARGO_PKG_VERSION"),
    "\n"
);

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
    /// Run an agent: join the cluster through --server (the fixed
    /// registration address), then keep a tunnel to every server behind a
    /// local load balancer on 127.0.0.1:6444
    Agent(Box<AgentArgs>),
    /// Boot a device as PID 1: partitions, edge.yaml, network, then
    /// `edged server|agent`, supervised; maintenance mode on a bad config
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// Run in a directory instead of on the machine: DIR/boot and DIR/data
    /// stand in for the partitions, DIR/usr/lib/edge/site.yaml for the
    /// image's site config, DIR/proc/cmdline for the kernel command line;
    /// mounts, mkfs, hostname and network are recorded in
    /// DIR/run/edge/system.log instead of done
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where maintenance mode serves GET /v1-edge/status (HTTPS, self-signed)
    #[arg(long, default_value = "0.0.0.0:6443")]
    status_address: SocketAddr,
    /// Seconds the server or agent gets between SIGTERM and SIGKILL
    #[arg(long, default_value_t = 30)]
    stop_timeout: u64,
}

/// Runs `edged init`; as PID 1 it never returns (it reboots).
async fn init(args: InitArgs) -> anyhow::Result<()> {
    let pid1 = std::process::id() == 1;
    let layout = match &args.root {
        Some(root) => Layout::under(&std::path::absolute(root)?),
        None if pid1 => Layout::device(),
        None => anyhow::bail!(
            "edged init is PID 1 on a device (it mounts and may format partitions); \
             use --root DIR to run it in a directory"
        ),
    };
    let program = std::env::current_exe()?;
    let mut opts = boot::init::Options::new(layout.clone(), program);
    opts.status_address = args.status_address;
    opts.stop_timeout = Duration::from_secs(args.stop_timeout);
    opts.pid1 = pid1;
    let outcome = if args.root.is_some() {
        boot::init::run(opts, &RootDir::new(layout.clone())).await
    } else {
        boot::init::run(
            opts,
            &Linux {
                layout: layout.clone(),
            },
        )
        .await
    };
    if pid1 {
        boot::init::finish(outcome, &layout);
    }
    Ok(())
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
                edge_runtime::server::run(config, shutdown, |_| boot::notify::ready()).await?;
                Ok::<(), anyhow::Error>(())
            }
            Command::Agent(args) => {
                let config = args
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
                edge_runtime::agent::run(config, shutdown, |_| boot::notify::ready()).await?;
                Ok(())
            }
            Command::Init(args) => init(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Our errors carry their causes in their own message; printing the
            // source chain too ({e:#}) would repeat each cause.
            tracing::error!("{e}");
            eprintln!("edged: {e}");
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
