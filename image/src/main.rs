//! `edge-image`: builds, lists and inspects Edgeplane images. Parses flags,
//! calls the library, prints: results on stdout, progress and diagnostics on
//! stderr. Exit status: 0 done, 1 refused or failed, 2 usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use edge_image::board::{self, Board, Boot};
use edge_image::build::{self, Format};
use edge_image::debian::{self, Keyring};
use edge_image::progress::{Progress, human_bytes};
use edge_image::{inspect, plan, site};

#[derive(Debug, Parser)]
#[command(
    name = "edge-image",
    version,
    about = "Build flashable Edgeplane images for edge boards"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an image for a board from a site config
    Build(Box<BuildArgs>),
    /// List the boards (board-configs/*.toml) with their arch and boot chain
    Boards {
        #[arg(short, long, value_enum, default_value = "text")]
        output: Output,
        /// Where board files are (default: $EDGE_IMAGE_BOARDS, else the
        /// nearest board-configs/ above the current directory)
        #[arg(long, value_name = "DIR")]
        boards_dir: Option<PathBuf>,
    },
    /// Show what an image holds: partitions, labels, kernel, runtime, config
    /// hash, reproducibility inputs, and the status a device left on it
    Inspect {
        file: PathBuf,
        #[arg(short, long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// A board name (see `edge-image boards`) or the path of a board file
    #[arg(long, value_name = "NAME|PATH")]
    board: String,
    /// The site config: token, datastore, virtual IP and the flags every
    /// server shares (checked like `edgectl config validate --site`)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where to write the image; FILE.sha256 and FILE.manifest.json go beside it
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "raw")]
    format: Format,
    /// An argument for the image's kernel command line (repeatable).
    /// `edge.*` ones are the top configuration layer (`edge.role=agent`) and
    /// are checked with the site config
    #[arg(long = "kernel-arg", value_name = "ARG")]
    kernel_args: Vec<String>,
    /// A static `edged` for the board's architecture (default: cargo builds
    /// it from this checkout)
    #[arg(long, value_name = "PATH")]
    runtime: Option<PathBuf>,
    /// Verified packages and indexes (default: ~/.cache/edge-image)
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// A Debian archive URL to use instead of the host's apt sources
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// Suites to read from --mirror
    #[arg(long, value_name = "SUITE", default_values = ["bookworm", "bookworm-updates"])]
    suite: Vec<String>,
    /// An OpenPGP keyring to verify the archive with (default: Debian's
    /// archive keys, carried by edge-image)
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// Fetch the archive's indexes again even when the cache has them
    #[arg(long)]
    refresh: bool,
    /// Accept an InRelease past its Valid-Until (old snapshot mirrors)
    #[arg(long)]
    allow_expired_release: bool,
    #[arg(long, value_name = "DIR")]
    boards_dir: Option<PathBuf>,
    /// No progress output
    #[arg(short, long)]
    quiet: bool,
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

fn default_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("edge-image")
}

fn board_errors(errors: Vec<board::BoardError>) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn run_build(args: &BuildArgs) -> anyhow::Result<()> {
    // Inputs first: board, site config, epoch. Nothing is fetched or
    // written until all of them are good.
    let dir = board::boards_dir(args.boards_dir.as_deref())?;
    let board = board::find(&args.board, &dir).map_err(board_errors)?;
    let name = args.config.display().to_string();
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("{name}: cannot read the site config"))?;
    let site = match site::check(&name, bytes, &args.kernel_args) {
        Ok(s) => s,
        Err(errors) => {
            for d in &errors {
                eprintln!("{d}");
            }
            bail!(
                "invalid: {} error{} in {name}{}; no image written",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                if args.kernel_args.is_empty() {
                    ""
                } else {
                    " < kernel command line"
                }
            );
        }
    };
    for w in &site.warnings {
        eprintln!("{w}");
    }
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH={v:?}: expected seconds since 1970 (an integer)")
        })?,
        Err(_) => plan::DEFAULT_EPOCH,
    };
    let sources = match &args.mirror {
        Some(url) => {
            let suites: Vec<&str> = args.suite.iter().map(String::as_str).collect();
            debian::sources::mirror(url, &suites)
        }
        None => debian::sources::host_sources(Path::new("/etc/apt"))
            .context("reading the host's apt sources (pass --mirror URL on a host without them)")?,
    };
    let keyring = match &args.keyring {
        Some(p) => Keyring::from_file(p)?,
        None => Keyring::debian()?,
    };
    let progress = if args.quiet {
        Progress::silent()
    } else {
        Progress::detect()
    };
    let opts = build::Options {
        board,
        site,
        out: args.out.clone(),
        format: args.format,
        kernel_args: args.kernel_args.clone(),
        runtime: args.runtime.clone(),
        cache: args.cache.clone().unwrap_or_else(default_cache),
        sources,
        keyring,
        refresh: args.refresh,
        allow_expired_release: args.allow_expired_release,
        source_date_epoch,
        progress,
    };
    let built = build::build(&opts)?;
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "image": built.out,
                "sha256": built.sha256,
                "manifest": built.manifest,
            })
        ),
        Output::Text => println!(
            "{}: {} {} image, {} (sha256 {})",
            built.out.display(),
            built.manifest.board,
            match args.format {
                Format::Raw => "raw",
                Format::Qcow2 => "qcow2",
            },
            human_bytes(built.manifest.disk_bytes),
            built.sha256
        ),
    }
    Ok(())
}

fn run_boards(output: Output, boards_dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = board::boards_dir(boards_dir)?;
    let mut boards: Vec<Board> = Vec::new();
    for name in board::board_names(&dir)? {
        boards.push(board::find(&name, &dir).map_err(board_errors)?);
    }
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&boards)?),
        Output::Text => {
            println!(
                "{:<18} {:<8} {:<12} {:<5} DESCRIPTION",
                "NAME", "ARCH", "BOOT", "TABLE"
            );
            for b in &boards {
                let boot = match &b.boot {
                    Boot::Uefi { .. } => "uefi",
                    Boot::Raspberrypi { .. } => "raspberrypi",
                };
                println!(
                    "{:<18} {:<8} {:<12} {:<5} {}",
                    b.name,
                    b.arch.to_string(),
                    boot,
                    format!("{:?}", b.partitions.table).to_lowercase(),
                    b.description
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDGE_LOG_LEVEL")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match &cli.command {
        Command::Build(args) => run_build(args),
        Command::Boards { output, boards_dir } => run_boards(*output, boards_dir.as_deref()),
        Command::Inspect { file, output } => inspect::inspect(file)
            .map_err(anyhow::Error::from)
            .and_then(|r| {
                match output {
                    Output::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                    Output::Text => print!("{}", r.text()),
                }
                Ok(())
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge-image: {e}");
            ExitCode::FAILURE
        }
    }
}
