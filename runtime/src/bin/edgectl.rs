//! `edgectl`: the operator's command line. Thin: parses flags and prints what
//! the library returns (results on stdout, logs on stderr).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_config::server::TokenArg;
use edge_config::token::Token;
use edge_runtime::ctl;
use edge_runtime::logging::{self, LogFormat};

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
        #[arg(long, env = "EDGE_TOKEN", hide_env_values = true, value_parser = TokenArg)]
        token: Token,
        /// Write the kubeconfig here (mode 0600) instead of printing it
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Check, show or describe a device configuration (edge.yaml)
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check configuration files as `edged init` will at boot: every error,
    /// each with file, line, column and key. Exit status 1 when invalid.
    Validate {
        #[command(flatten)]
        sources: SourceArgs,
        /// Output format
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: Format,
    },
    /// Print the effective configuration (layers merged, secrets redacted).
    /// Without files: this device's site config, /boot/edge.yaml and /proc/cmdline.
    Render {
        #[command(flatten)]
        sources: SourceArgs,
        /// Output format
        #[arg(long, short = 'o', value_enum, default_value = "yaml")]
        output: Format,
    },
    /// Print the JSON Schema of edge.yaml, for editors
    Schema,
}

#[derive(Debug, clap::Args)]
struct SourceArgs {
    /// Device files (edge.yaml), lowest precedence first
    files: Vec<PathBuf>,
    /// The image's site config, below the files
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// A kernel command line whose edge.* arguments go on top
    #[arg(long, value_name = "CMDLINE")]
    cmdline: Option<String>,
}

impl SourceArgs {
    fn sources(self) -> ctl::config::Sources {
        ctl::config::Sources {
            site: self.site,
            files: self.files,
            cmdline: self.cmdline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Yaml,
    Json,
}

/// Runs `edgectl config …`; returns whether the command succeeded.
fn config(cmd: ConfigCommand) -> anyhow::Result<bool> {
    match cmd {
        ConfigCommand::Validate { sources, output } => {
            let sources = sources.sources();
            if sources.is_empty() {
                anyhow::bail!("name at least one file (or --site / --cmdline)");
            }
            let report = ctl::config::validate(&sources);
            match output {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Text | Format::Yaml => {
                    // Diagnostics are messages (stderr, as render prints
                    // them); stdout carries only a valid configuration's verdict.
                    for d in &report.diagnostics {
                        eprintln!("{d}");
                    }
                    let summary = report.summary(&sources);
                    if report.valid {
                        println!("{summary}");
                    } else {
                        eprintln!("{summary}");
                    }
                }
            }
            Ok(report.valid)
        }
        ConfigCommand::Render { sources, output } => {
            let mut sources = sources.sources();
            if sources.is_empty() {
                sources = ctl::config::Sources::device();
            }
            match ctl::config::render(&sources) {
                Ok((value, warnings)) => {
                    for w in warnings {
                        eprintln!("{w}");
                    }
                    match output {
                        Format::Json => println!("{}", serde_json::to_string_pretty(&value)?),
                        Format::Yaml | Format::Text => {
                            print!("{}", edge_config::render::to_yaml(&value));
                        }
                    }
                    Ok(true)
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    Ok(false)
                }
            }
        }
        ConfigCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&ctl::config::schema())?);
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(LogFormat::Text, &cli.log_level);
    let (server, token, output) = match cli.command {
        // Offline: no async runtime needed.
        Command::Config(cmd) => {
            return match config(cmd) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("edgectl: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Kubeconfig {
            server,
            token,
            output,
        } => (server, token, output),
    };
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
        let issued = ctl::kubeconfig::fetch(&server, &token).await?;
        match output {
            Some(path) => {
                ctl::kubeconfig::write(&path, &issued)?;
                eprintln!("wrote {}", path.display());
            }
            None => print!("{}", issued.kubeconfig.expose()),
        }
        Ok::<(), anyhow::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgectl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
