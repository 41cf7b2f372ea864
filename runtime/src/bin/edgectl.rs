//! `edgectl`: the operator's command line. Thin: parses flags and prints what
//! the library returns (results on stdout, logs on stderr).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_runtime::ctl;
use edge_runtime::logging::{self, LogFormat};
use edge_runtime::secret::Secret;

/// Operate an Edgeplane cluster.
#[derive(Debug, Parser)]
#[command(name = "edgectl", version, propagate_version = true)]
struct Cli {
    /// Log level on stderr (overridden by RUST_LOG)
    #[arg(long, global = true, env = "EDGE_LOG_LEVEL", default_value = "warn")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Get an administrator kubeconfig from a server, with the cluster token
    Kubeconfig {
        /// The server (or the cluster's virtual IP): https://ADDR:6443
        #[arg(long, env = "EDGE_URL")]
        server: String,
        /// The token (the full K10 token from <data-dir>/server/token verifies the server)
        #[arg(long, env = "EDGE_TOKEN", hide_env_values = true)]
        token: String,
        /// Write the kubeconfig here (mode 0600) instead of printing it
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(LogFormat::Text, &cli.log_level);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("edgectl: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Kubeconfig {
                server,
                token,
                output,
            } => {
                let issued = ctl::kubeconfig::fetch(&server, &Secret::new(token)).await?;
                match output {
                    Some(path) => {
                        ctl::kubeconfig::write(&path, &issued)?;
                        eprintln!("wrote {}", path.display());
                    }
                    None => print!("{}", issued.kubeconfig.expose()),
                }
                Ok::<(), anyhow::Error>(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgectl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
