//! Byte layouts of everything that ends up on a flashed disk: the GPT and
//! MBR partition tables, FAT filesystems, newc cpio archives (initramfs),
//! PE/UKI section appending, kernel-module metadata and ELF identification.
//!
//! Owns: pure, deterministic writers and readers over bytes (or a caller's
//! `Read + Write + Seek`). Every identifier and timestamp that lands in the
//! output is an argument: the same inputs give byte-identical output.
//!
//! Must not: open paths, start processes, read the clock or the environment,
//! or draw random numbers. Readers must not panic on malformed input (the
//! `inspect` command feeds them arbitrary files); they return [`DiskError`]
//! saying what was wrong and where.

pub mod cpio;
pub mod elf;
pub mod fat;
pub mod gpt;
pub mod kmod;
pub mod mbr;
pub mod pe;

pub use elf::{ElfArch, ElfInfo, elf_arch};
pub use fat::{FatEntry, FatSpec, FatTimestamp, build_fat, fat_label, fat_type, read_fat};
pub use gpt::{Extent, Gpt, GptLayout, GptPartition, Guid, SECTOR_SIZE, layout};
pub use kmod::{ModInfo, Module, ModuleFiles, ModuleSet, ModuleSource, modinfo, normalize_name};
pub use mbr::{Mbr, MbrPartition};
pub use pe::{PeSection, add_sections, section_data, sections};

/// Everything the disk writers and readers can refuse.
///
/// Messages name the structure and the place (`GPT header CRC mismatch at
/// LBA 1`, `cpio entry 3 (bin/sh): ...`) so an `inspect` user can tell what
/// is broken without a hex dump.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Reading or writing the caller's stream failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A GPT being written is inconsistent, or one being read is malformed.
    #[error("GPT: {0}")]
    Gpt(String),
    /// An MBR being written is inconsistent, or one being read is malformed.
    #[error("MBR: {0}")]
    Mbr(String),
    /// A FAT filesystem could not be built or read.
    #[error("FAT: {0}")]
    Fat(String),
    /// A cpio archive could not be written or parsed.
    #[error("cpio: {0}")]
    Cpio(String),
    /// A PE image could not be parsed or extended.
    #[error("PE: {0}")]
    Pe(String),
    /// An ELF file could not be parsed.
    #[error("ELF: {0}")]
    Elf(String),
    /// A kernel module's metadata is malformed or unsupported.
    #[error("kernel module {module}: {msg}")]
    Module { module: String, msg: String },
    /// A module needed (directly or transitively) is not in the kernel's set.
    #[error(
        "kernel module {needed_by} depends on {missing}, which is not among the kernel's modules"
    )]
    MissingModule { missing: String, needed_by: String },
    /// A requested module is not in the kernel's set at all.
    #[error("kernel module {0} was requested but is not among the kernel's modules")]
    UnknownModule(String),
    /// Module dependencies form a cycle (listed in order, first repeated last).
    #[error("kernel module dependency cycle: {}", .0.join(" -> "))]
    ModuleCycle(Vec<String>),
}

impl DiskError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DiskError {
        let context = context.into();
        move |source| DiskError::Io { context, source }
    }
}
