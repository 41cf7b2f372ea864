//! Boards are data: one `board-configs/NAME.toml` per board, parsed into
//! [`Board`]. A board names its architecture and Rust target, the Debian
//! packages of its kernel, boot chain and firmware, the kernel modules the
//! initramfs loads, its consoles and its partition sizes.
//!
//! Owns the board file format and its checks: unknown keys and bad values are
//! refused with `file:line:column: key: message`. Must not do IO beyond
//! reading the board files it is pointed at, and must not know how an image is
//! assembled (that is [`crate::build`]).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Where board files are found when none is named: `EDGE_IMAGE_BOARDS`, then
/// `board-configs/` in the current directory or one above it, then the
/// checkout this binary was built from.
pub const BOARDS_ENV: &str = "EDGE_IMAGE_BOARDS";

/// A CPU architecture the runtime is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// Debian's name for it (`Packages` indexes, `.deb` file names).
    pub fn debian(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// The static musl target `edged` is built for.
    pub fn rust_target(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-musl",
            Self::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The removable-media path UEFI firmware boots without any boot entry.
    pub fn efi_boot_path(self) -> &'static str {
        match self {
            Self::X86_64 => "EFI/BOOT/BOOTX64.EFI",
            Self::Aarch64 => "EFI/BOOT/BOOTAA64.EFI",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        })
    }
}

/// How the board's firmware finds the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Chain {
    /// UEFI firmware starts a unified kernel image (stub + kernel + initramfs
    /// + command line) at the removable-media path of the FAT partition.
    Uefi,
    /// The Raspberry Pi's GPU firmware reads `config.txt` and `cmdline.txt`
    /// from the FAT partition of an MBR disk and starts the kernel with a
    /// device tree.
    Raspberrypi,
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uefi => "uefi",
            Self::Raspberrypi => "raspberrypi",
        })
    }
}

/// The partition table the firmware needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Table {
    Gpt,
    Mbr,
}

/// A board file as written. Spanned fields are checked after parsing, so their
/// errors can point at the value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BoardFile {
    description: String,
    arch: Arch,
    rust_target: Spanned<String>,
    console: Spanned<Vec<String>>,
    #[serde(default)]
    cmdline: Vec<String>,
    kernel: KernelFile,
    boot: BootFile,
    partitions: PartitionsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KernelFile {
    package: String,
    #[serde(default = "default_follow")]
    follow: String,
    modules: Vec<Spanned<String>>,
}

fn default_follow() -> String {
    "linux-image-".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BootFile {
    chain: Spanned<Chain>,
    stub_package: Option<Spanned<String>>,
    stub: Option<Spanned<String>>,
    firmware_package: Option<Spanned<String>>,
    firmware_component: Option<Spanned<String>>,
    firmware_dir: Option<Spanned<String>>,
    firmware: Option<Spanned<Vec<String>>>,
    device_tree: Option<Spanned<String>>,
    config_txt: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PartitionsFile {
    table: Spanned<Table>,
    boot_mib: Spanned<u32>,
    root_mib: Spanned<u32>,
    data_mib: Spanned<u32>,
}

/// A board, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Board {
    /// The file's stem: `x86_64-generic`.
    pub name: String,
    pub description: String,
    pub arch: Arch,
    /// `console=` arguments, in order; the last is `/dev/console`.
    pub console: Vec<String>,
    /// More kernel arguments (never `edge.*`: those are the site's).
    pub cmdline: Vec<String>,
    pub kernel: Kernel,
    pub boot: Boot,
    pub partitions: Partitions,
    /// Where the board was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kernel {
    /// The package to resolve (often a metapackage).
    pub package: String,
    /// Follow the package's dependency with this prefix to the real image.
    pub follow: String,
    /// Module names the initramfs loads (their dependencies are added).
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "chain", rename_all = "kebab-case")]
pub enum Boot {
    Uefi {
        stub_package: String,
        /// The EFI stub's path inside the package.
        stub: String,
    },
    Raspberrypi {
        firmware_package: String,
        /// The archive component the firmware is in (`non-free-firmware`).
        firmware_component: Option<String>,
        firmware_dir: String,
        firmware: Vec<String>,
        /// Relative to the kernel's device-tree directory.
        device_tree: String,
        config_txt: Vec<String>,
    },
}

impl Boot {
    pub fn chain(&self) -> Chain {
        match self {
            Self::Uefi { .. } => Chain::Uefi,
            Self::Raspberrypi { .. } => Chain::Raspberrypi,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Partitions {
    pub table: Table,
    pub boot_mib: u32,
    pub root_mib: u32,
    pub data_mib: u32,
}

/// A board file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    #[error("{}: cannot read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// Located: `file:line:column: key: message`.
    #[error("{}:{line}:{column}: {}{message}", path.display(), key_prefix(.key))]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error(
        "unknown board {name:?}; known boards: {} (in {}). Name one of them, or give the path of a board file",
        if known.is_empty() { "none".to_owned() } else { known.join(", ") },
        dir.display()
    )]
    Unknown {
        name: String,
        known: Vec<String>,
        dir: PathBuf,
    },
    #[error(
        "no board-configs directory found (looked in {}); set {BOARDS_ENV} or run from a checkout",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoDirectory { looked: Vec<PathBuf> },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<BoardError>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(BoardError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// A required key of one boot chain.
    fn need<T: Clone>(
        &mut self,
        value: &Option<Spanned<T>>,
        chain: &Spanned<Chain>,
        key: &str,
    ) -> Option<T> {
        match value {
            Some(v) => Some(v.get_ref().clone()),
            None => {
                self.error(
                    chain.span(),
                    &format!("boot.{key}"),
                    format!("boot chain {} needs `{key}`", chain.get_ref()),
                );
                None
            }
        }
    }

    /// A key that means nothing for this boot chain.
    fn refuse<T>(&mut self, value: &Option<Spanned<T>>, chain: Chain, key: &str) {
        if let Some(v) = value {
            self.error(
                v.span(),
                &format!("boot.{key}"),
                format!("not used by boot chain {chain}; remove it"),
            );
        }
    }
}

/// A relative path inside a package or partition: no `..`, not absolute.
fn plain_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && Path::new(p)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The offending key of a TOML error: the text its span covers when that is
/// a bare key (unknown fields point at the key).
fn key_at(text: &str, span: &Range<usize>) -> String {
    let s = text.get(span.clone()).unwrap_or("").trim();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_owned()
    } else {
        String::new()
    }
}

impl Board {
    /// Parses and checks a board file's text. `path`'s stem is the board name.
    pub fn parse(path: &Path, text: &str) -> Result<Board, Vec<BoardError>> {
        let file: BoardFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let (line, column) = line_column(text, span.start);
            vec![BoardError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key: key_at(text, &span),
                message: e.message().trim().to_owned(),
            }]
        })?;
        let mut c = Checker {
            path,
            text,
            errors: Vec::new(),
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.rust_target.get_ref() != file.arch.rust_target() {
            c.error(
                file.rust_target.span(),
                "rust-target",
                format!(
                    "{} is not a static musl target for arch {}; use {}",
                    file.rust_target.get_ref(),
                    file.arch,
                    file.arch.rust_target()
                ),
            );
        }
        if file.console.get_ref().is_empty() {
            c.error(
                file.console.span(),
                "console",
                "name at least one console (e.g. ttyS0,115200): with none, boot messages go nowhere",
            );
        }
        for arg in &file.cmdline {
            if arg.starts_with("edge.") {
                c.error(
                    0..0,
                    "cmdline",
                    format!("{arg}: edge.* arguments belong to the site config, not the board"),
                );
            }
        }
        for m in &file.kernel.modules {
            let ok = !m.get_ref().is_empty()
                && m.get_ref()
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !ok {
                c.error(
                    m.span(),
                    "kernel.modules",
                    format!(
                        "{:?} is not a module name (letters, digits, _ and -; no path, no .ko)",
                        m.get_ref()
                    ),
                );
            }
        }
        let boot = &file.boot;
        let chain = *boot.chain.get_ref();
        let board_boot = match chain {
            Chain::Uefi => {
                c.refuse(&boot.firmware_package, chain, "firmware-package");
                c.refuse(&boot.firmware_component, chain, "firmware-component");
                c.refuse(&boot.firmware_dir, chain, "firmware-dir");
                c.refuse(&boot.firmware, chain, "firmware");
                c.refuse(&boot.device_tree, chain, "device-tree");
                c.refuse(&boot.config_txt, chain, "config-txt");
                let stub_package = c.need(&boot.stub_package, &boot.chain, "stub-package");
                let stub = c.need(&boot.stub, &boot.chain, "stub");
                if let Some(s) = &boot.stub
                    && !plain_relative(s.get_ref())
                {
                    c.error(
                        s.span(),
                        "boot.stub",
                        "a path inside the package, relative, without ..",
                    );
                }
                stub_package
                    .zip(stub)
                    .map(|(stub_package, stub)| Boot::Uefi { stub_package, stub })
            }
            Chain::Raspberrypi => {
                c.refuse(&boot.stub_package, chain, "stub-package");
                c.refuse(&boot.stub, chain, "stub");
                let firmware_package =
                    c.need(&boot.firmware_package, &boot.chain, "firmware-package");
                let firmware_dir = c.need(&boot.firmware_dir, &boot.chain, "firmware-dir");
                let firmware = c.need(&boot.firmware, &boot.chain, "firmware");
                let device_tree = c.need(&boot.device_tree, &boot.chain, "device-tree");
                for (key, v) in [
                    ("firmware-dir", &boot.firmware_dir),
                    ("device-tree", &boot.device_tree),
                ] {
                    if let Some(v) = v
                        && !plain_relative(v.get_ref())
                    {
                        c.error(
                            v.span(),
                            &format!("boot.{key}"),
                            "a relative path without ..",
                        );
                    }
                }
                if let Some(files) = &boot.firmware
                    && let Some(bad) = files.get_ref().iter().find(|f| !plain_relative(f))
                {
                    c.error(
                        files.span(),
                        "boot.firmware",
                        format!("{bad:?}: file names relative to firmware-dir, without .."),
                    );
                }
                match (firmware_package, firmware_dir, firmware, device_tree) {
                    (Some(firmware_package), Some(firmware_dir), Some(firmware), Some(dt)) => {
                        Some(Boot::Raspberrypi {
                            firmware_package,
                            firmware_component: boot
                                .firmware_component
                                .as_ref()
                                .map(|s| s.get_ref().clone()),
                            firmware_dir,
                            firmware,
                            device_tree: dt,
                            config_txt: boot
                                .config_txt
                                .as_ref()
                                .map(|s| s.get_ref().clone())
                                .unwrap_or_default(),
                        })
                    }
                    _ => None,
                }
            }
        };
        let p = &file.partitions;
        let table = *p.table.get_ref();
        match (chain, table) {
            (Chain::Raspberrypi, Table::Gpt) => c.error(
                p.table.span(),
                "partitions.table",
                "the Raspberry Pi firmware reads only MBR disks; use \"mbr\"",
            ),
            (Chain::Uefi, Table::Mbr) => c.error(
                p.table.span(),
                "partitions.table",
                "UEFI images are GPT (partitions are found by their GPT names); use \"gpt\"",
            ),
            _ => {}
        }
        // FAT32 needs about 33 MiB; a root must hold edged; the data partition
        // must hold the datastore's first writes.
        for (key, v, min) in [
            ("boot-mib", &p.boot_mib, 40),
            ("root-mib", &p.root_mib, 32),
            ("data-mib", &p.data_mib, 32),
        ] {
            if *v.get_ref() < min || *v.get_ref() > 64 * 1024 {
                c.error(
                    v.span(),
                    &format!("partitions.{key}"),
                    format!("{} MiB: give {min} to 65536 MiB", v.get_ref()),
                );
            }
        }
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        let Some(boot) = board_boot else {
            return Err(c.errors);
        };
        Ok(Board {
            name,
            description: file.description,
            arch: file.arch,
            console: file.console.into_inner(),
            cmdline: file.cmdline,
            kernel: Kernel {
                package: file.kernel.package,
                follow: file.kernel.follow,
                modules: file
                    .kernel
                    .modules
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
            },
            boot,
            partitions: Partitions {
                table,
                boot_mib: *p.boot_mib.get_ref(),
                root_mib: *p.root_mib.get_ref(),
                data_mib: *p.data_mib.get_ref(),
            },
            path: path.to_owned(),
        })
    }

    /// Reads and checks one board file.
    pub fn load(path: &Path) -> Result<Board, Vec<BoardError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![BoardError::Read {
                path: path.to_owned(),
                message: e.to_string(),
            }]
        })?;
        Self::parse(path, &text)
    }
}

/// The directory of board files: `explicit` if given, else
/// [`BOARDS_ENV`], else the nearest `board-configs/` from the current
/// directory up, else the checkout this binary was built from.
pub fn boards_dir(explicit: Option<&Path>) -> Result<PathBuf, BoardError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(BOARDS_ENV) {
        return Ok(PathBuf::from(p));
    }
    let mut looked = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("board-configs");
            if candidate.is_dir() {
                return Ok(candidate);
            }
        }
        looked.push(cwd.join("board-configs (and above)"));
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = manifest_dir
        .parent()
        .unwrap_or(manifest_dir)
        .join("board-configs");
    if built.is_dir() {
        return Ok(built);
    }
    looked.push(built);
    Err(BoardError::NoDirectory { looked })
}

/// The board names in `dir` (file stems of `*.toml`), sorted.
pub fn board_names(dir: &Path) -> Result<Vec<String>, BoardError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BoardError::Read {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// `--board NAME|PATH`: a path when it names a file (contains `/` or ends in
/// `.toml`), else a board in `dir`.
pub fn find(board: &str, dir: &Path) -> Result<Board, Vec<BoardError>> {
    if board.contains('/') || board.ends_with(".toml") {
        return Board::load(Path::new(board));
    }
    let path = dir.join(format!("{board}.toml"));
    if path.is_file() {
        return Board::load(&path);
    }
    let known = board_names(dir).map_err(|e| vec![e])?;
    Err(vec![BoardError::Unknown {
        name: board.to_owned(),
        known,
        dir: dir.to_owned(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
description = "test board"
arch = "x86_64"
rust-target = "x86_64-unknown-linux-musl"
console = ["ttyS0,115200"]

[kernel]
package = "linux-image-cloud-amd64"
modules = ["virtio_blk", "erofs"]

[boot]
chain = "uefi"
stub-package = "systemd-boot-efi"
stub = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"

[partitions]
table = "gpt"
boot-mib = 48
root-mib = 96
data-mib = 64
"#;

    fn errors(text: &str) -> Vec<String> {
        Board::parse(Path::new("b/test.toml"), text)
            .expect_err("should be refused")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_board_parses() {
        let b = Board::parse(Path::new("b/test.toml"), GOOD).expect("valid");
        assert_eq!(b.name, "test");
        assert_eq!(b.arch.debian(), "amd64");
        assert_eq!(b.kernel.follow, "linux-image-");
        assert_eq!(b.boot.chain(), Chain::Uefi);
        assert_eq!(b.partitions.root_mib, 96);
    }

    #[test]
    fn an_unknown_key_is_located_by_file_line_and_key() {
        let text = GOOD.replace("modules =", "modulez =");
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("b/test.toml:9:1: modulez: unknown field `modulez`"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn a_bad_value_is_located_at_the_value() {
        let e = errors(&GOOD.replace("arch = \"x86_64\"", "arch = \"sparc\""));
        assert!(e[0].starts_with("b/test.toml:3:8: "), "{}", e[0]);
        assert!(e[0].contains("sparc"), "{}", e[0]);
        let e = errors(&GOOD.replace("boot-mib = 48", "boot-mib = 8"));
        assert_eq!(
            e,
            ["b/test.toml:18:12: partitions.boot-mib: 8 MiB: give 40 to 65536 MiB"]
        );
    }

    #[test]
    fn checks_after_parsing_report_every_problem() {
        let text = GOOD
            .replace("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")
            .replace("\"erofs\"", "\"erofs.ko\"")
            .replace("table = \"gpt\"", "table = \"mbr\"");
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains(":4:15: rust-target: aarch64-unknown-linux-musl is not a static musl target for arch x86_64"), "{}", e[0]);
        assert!(
            e[1].contains("kernel.modules: \"erofs.ko\" is not a module name"),
            "{}",
            e[1]
        );
        assert!(
            e[2].contains("partitions.table: UEFI images are GPT"),
            "{}",
            e[2]
        );
    }

    #[test]
    fn keys_of_the_other_boot_chain_are_refused() {
        let text = GOOD.replace(
            "chain = \"uefi\"",
            "chain = \"uefi\"\ndevice-tree = \"broadcom/x.dtb\"",
        );
        let e = errors(&text);
        assert!(
            e[0].ends_with("boot.device-tree: not used by boot chain uefi; remove it"),
            "{}",
            e[0]
        );
        let text = GOOD.replace(
            "stub = \"usr/lib/systemd/boot/efi/linuxx64.efi.stub\"\n",
            "",
        );
        let e = errors(&text);
        assert!(
            e[0].ends_with("boot.stub: boot chain uefi needs `stub`"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn every_board_in_the_repository_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs");
        let names = board_names(&dir).expect("board-configs");
        assert_eq!(
            names,
            ["aarch64-generic", "raspberrypi-4", "x86_64-generic"],
            "a new board file needs a line here and a test of its image"
        );
        for name in names {
            let b = find(&name, &dir).unwrap_or_else(|e| panic!("{name}: {}", e[0]));
            assert_eq!(b.name, name);
        }
    }

    #[test]
    fn an_unknown_board_lists_the_known_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs");
        let e = find("x86", &dir).expect_err("unknown");
        let text = e[0].to_string();
        assert!(
            text.starts_with("unknown board \"x86\"; known boards: aarch64-generic, raspberrypi-4, x86_64-generic (in "),
            "{text}"
        );
    }
}
