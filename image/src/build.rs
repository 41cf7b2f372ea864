//! `edge-image build`: a board, a checked site config and a runtime binary in;
//! a disk image, its `.sha256` and its `.manifest.json` out.
//!
//! The order is the contract: every input an operator gives is checked
//! (board, site config, output directory, runtime architecture) before a
//! package is downloaded; the image is written beside its final name and
//! renamed only when whole, so a failed build leaves no file behind.
//!
//! Owns the sequence and the host tools it runs (`mkfs.erofs`, `mkfs.ext4`,
//! `qemu-img`, `cargo`). Must not interpret the site config beyond what
//! [`crate::site`] returns, and must not write a secret anywhere but the
//! root filesystem's site config.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::board::{Arch, Board, Boot, Table};
use crate::debian::{self, AptSource, Archive, ArchiveOptions, Keyring};
use crate::disk::{self, Guid};
use crate::manifest::{self, Manifest, PartitionInfo};
use crate::plan;
use crate::progress::Progress;
use crate::site::Site;
use crate::tree::Tree;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A raw disk, to `dd` or flash as is.
    Raw,
    /// QEMU's copy-on-write format (converted with `qemu-img`).
    Qcow2,
}

/// Everything a build needs.
#[derive(Debug)]
pub struct Options {
    pub board: Board,
    pub site: Site,
    pub out: PathBuf,
    pub format: Format,
    /// More kernel arguments (checked with the site config).
    pub kernel_args: Vec<String>,
    /// A prebuilt `edged`; built with cargo when `None`.
    pub runtime: Option<PathBuf>,
    pub cache: PathBuf,
    pub sources: Vec<AptSource>,
    pub keyring: Keyring,
    pub refresh: bool,
    pub allow_expired_release: bool,
    pub source_date_epoch: u64,
    pub progress: Progress,
}

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "cannot write the image {}: {cause}; choose --out in a directory you can write",
        path.display()
    )]
    Output { path: PathBuf, cause: String },
    #[error("--runtime {}: {message}", path.display())]
    Runtime { path: PathBuf, message: String },
    #[error(transparent)]
    Archive(#[from] debian::ArchiveError),
    #[error("{package}: {message}")]
    Package { package: String, message: String },
    #[error("{0}")]
    Disk(#[from] disk::DiskError),
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    #[error("{what}: {message}")]
    TooBig { what: String, message: String },
    #[error("{what} {}: {cause}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl BuildError {
    fn output(path: &Path, cause: impl std::fmt::Display) -> Self {
        Self::Output {
            path: path.to_owned(),
            cause: cause.to_string(),
        }
    }
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BuildError + 'a {
    move |cause| BuildError::Io {
        what,
        path: path.to_owned(),
        cause,
    }
}

const MIB: u64 = 1024 * 1024;

/// The result of a build.
#[derive(Debug)]
pub struct Built {
    pub manifest: Manifest,
    pub sha256: String,
    pub out: PathBuf,
}

/// Builds the image. See the module header for the order of checks.
pub fn build(opts: &Options) -> Result<Built, BuildError> {
    let board = &opts.board;
    // 1. The output directory, before anything is fetched: the raw image is
    // written to a temporary file there and renamed when whole.
    let out_dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut raw = tempfile::Builder::new()
        .prefix(".edge-image-")
        .tempfile_in(&out_dir)
        .map_err(|e| BuildError::output(&opts.out, e))?;

    // 2. The runtime: given, or built for the board's target.
    let runtime_path = match &opts.runtime {
        Some(p) => p.clone(),
        None => build_runtime(board.arch, &opts.progress)?,
    };
    let runtime = std::fs::read(&runtime_path).map_err(|e| BuildError::Runtime {
        path: runtime_path.clone(),
        message: format!("cannot read: {e}"),
    })?;
    check_runtime(&runtime_path, &runtime, board)?;
    let runtime_version = runtime_version(&runtime).unwrap_or_else(|| "unknown".to_owned());

    // 3. Packages, verified and cached.
    let mut components = Vec::new();
    if let Boot::Raspberrypi {
        firmware_component: Some(c),
        ..
    } = &board.boot
    {
        components.push(c.clone());
    }
    let archive = Archive::open(ArchiveOptions {
        sources: opts.sources.clone(),
        arch: board.arch.debian().to_owned(),
        components,
        cache_dir: opts.cache.clone(),
        keyring: opts.keyring.clone(),
        refresh: opts.refresh,
        allow_expired_release: opts.allow_expired_release,
        progress: opts.progress.clone(),
    })?;
    let kernel_pkg = archive.follow(&board.kernel.package, &board.kernel.follow)?;
    let busybox_pkg = archive.resolve("busybox-static")?;
    let certs_pkg = archive.resolve("ca-certificates")?;
    let boot_pkg = match &board.boot {
        Boot::Uefi { stub_package, .. } => archive.resolve(stub_package)?,
        Boot::Raspberrypi {
            firmware_package, ..
        } => archive.resolve(firmware_package)?,
    };
    let packages = [&kernel_pkg, &busybox_pkg, &certs_pkg, &boot_pkg];
    let mut debs = Vec::new();
    for p in packages {
        debs.push(archive.fetch(p)?);
    }
    let [kernel_deb, busybox_deb, certs_deb, boot_deb] = [&debs[0], &debs[1], &debs[2], &debs[3]];

    // 4. What the packages give: kernel, modules, device tree, busybox, CAs.
    let kernel = Kernel::extract(kernel_deb, &kernel_pkg.name, board)?;
    let busybox = one_file(busybox_deb, "busybox-static", "bin/busybox")?;
    let ca_bundle = ca_bundle(certs_deb)?;
    let wanted: Vec<&String> = board
        .kernel
        .modules
        .iter()
        .filter(|m| !kernel.builtin.contains(&disk::kmod::normalize_name(m)))
        .collect();
    let (load_order, modules_dep) =
        disk::kmod::resolve(&kernel.modules, &wanted).map_err(|e| BuildError::Package {
            package: kernel_pkg.name.clone(),
            message: e.to_string(),
        })?;

    // The digest every derived identifier comes from: same inputs, same ids.
    let inputs = {
        let mut h = Sha256::new();
        h.update(board.name.as_bytes());
        h.update(opts.site.sha256.as_bytes());
        h.update(Sha256::digest(&runtime));
        for p in packages {
            h.update(p.sha256.as_bytes());
        }
        h.update(opts.source_date_epoch.to_le_bytes());
        for a in &opts.kernel_args {
            h.update(a.as_bytes());
            h.update([0]);
        }
        let d: [u8; 32] = h.finalize().into();
        d
    };
    let epoch = opts.source_date_epoch;
    let mtime = u32::try_from(epoch).unwrap_or(u32::MAX);

    // 5. The initramfs: busybox, the modules, /init.
    let module_dir = format!("lib/modules/{}", kernel.release);
    let mut initramfs = Tree::new();
    for d in ["dev", "proc", "sys", "newroot", "bin", "etc"] {
        initramfs.dir(d);
    }
    initramfs.file("init", 0o755, plan::init_script());
    initramfs.file("bin/busybox", 0o755, busybox.clone());
    let mut list = String::new();
    for m in &load_order {
        let (path, bytes) = &kernel.modules[m];
        initramfs.file(&format!("{module_dir}/{path}"), 0o644, bytes.clone());
        list.push_str(&format!("{}/{path}\n", kernel.release));
    }
    initramfs.file(plan::MODULE_LIST, 0o644, list);
    let initrd = initramfs.to_cpio(mtime)?;

    // 6. The root filesystem (erofs, read-only).
    let mut root = Tree::new();
    for d in plan::ROOT_DIRS {
        root.dir(d);
    }
    root.file(plan::RUNTIME, 0o755, runtime.clone());
    root.file("bin/busybox", 0o755, busybox);
    for applet in plan::ROOT_APPLETS {
        root.symlink(&format!("bin/{applet}"), "busybox");
    }
    for m in &load_order {
        let (path, bytes) = &kernel.modules[m];
        root.file(&format!("{module_dir}/{path}"), 0o644, bytes.clone());
    }
    root.file(&format!("{module_dir}/modules.dep"), 0o644, modules_dep);
    root.file(plan::SITE_CONFIG, 0o600, opts.site.bytes.clone());
    root.file("etc/udhcpc/default.script", 0o755, plan::udhcpc_script());
    root.file("etc/ssl/certs/ca-certificates.crt", 0o644, ca_bundle);
    root.file(
        "etc/os-release",
        0o644,
        plan::os_release(board, &runtime_version),
    );
    root.symlink("etc/resolv.conf", "../run/resolv.conf");
    let root_fs = make_erofs(
        &root,
        epoch,
        Guid::derive(&plan::derive_id(&inputs, "root-fs")),
    )?;
    let root_bytes = u64::from(board.partitions.root_mib) * MIB;
    if root_fs.len() as u64 > root_bytes {
        return Err(BuildError::TooBig {
            what: format!("{} (root filesystem)", plan::ROOT_A_LABEL),
            message: format!(
                "{} MiB does not fit the board's root-mib = {}; raise it in {}",
                (root_fs.len() as u64).div_ceil(MIB),
                board.partitions.root_mib,
                board.path.display()
            ),
        });
    }

    // 7. The data partition: ext4, formatted here so boards whose image has
    // no mkfs find it ready (edged init never formats what it recognises).
    let data_bytes = u64::from(board.partitions.data_mib) * MIB;
    let data_fs = make_ext4(
        data_bytes,
        epoch,
        Guid::derive(&plan::derive_id(&inputs, "data-fs")),
    )?;

    // 8. The partition layout, then the boot partition (which carries the
    // manifest, so the layout comes first).
    let sizes = [
        (plan::BOOT_LABEL, u64::from(board.partitions.boot_mib) * MIB),
        (plan::ROOT_A_LABEL, root_bytes),
        (plan::ROOT_B_LABEL, root_bytes),
        (plan::DATA_LABEL, data_bytes),
    ];
    let mut offset = MIB;
    let mut partitions = Vec::new();
    for (label, bytes) in sizes {
        partitions.push((label, offset, bytes));
        offset += bytes;
    }
    // The backup GPT's 33 sectors, rounded to a MiB.
    let disk_bytes = offset + MIB;

    let cmdline = plan::cmdline(board, &opts.kernel_args);
    let manifest = Manifest {
        format: manifest::FORMAT,
        builder: format!("edge-image {}", env!("CARGO_PKG_VERSION")),
        board: board.name.clone(),
        arch: board.arch.to_string(),
        boot_chain: board.boot.chain().to_string(),
        source_date_epoch: epoch,
        runtime: manifest::Runtime {
            version: runtime_version.clone(),
            sha256: hex::encode(Sha256::digest(&runtime)),
            bytes: runtime.len() as u64,
        },
        kernel: manifest::KernelInfo {
            package: kernel_pkg.name.clone(),
            version: kernel_pkg.version.clone(),
            release: kernel.release.clone(),
            modules: load_order.clone(),
        },
        packages: packages
            .iter()
            .map(|p| manifest::Package {
                name: p.name.clone(),
                version: p.version.clone(),
                architecture: p.architecture.clone(),
                sha256: p.sha256.clone(),
                bytes: p.size,
            })
            .collect(),
        config: manifest::ConfigInfo {
            sha256: opts.site.sha256.clone(),
        },
        cmdline: cmdline.clone(),
        partitions: partitions
            .iter()
            .map(|(label, offset, bytes)| PartitionInfo {
                label: (*label).to_owned(),
                filesystem: match *label {
                    plan::BOOT_LABEL => "vfat",
                    plan::ROOT_A_LABEL => "erofs",
                    plan::ROOT_B_LABEL => "none",
                    _ => "ext4",
                }
                .to_owned(),
                offset: *offset,
                bytes: *bytes,
                used: match *label {
                    plan::ROOT_A_LABEL => root_fs.len() as u64,
                    _ => 0,
                },
            })
            .collect(),
        disk_bytes,
    };

    let boot_files = boot_files(
        board,
        &BootInputs {
            kernel: &kernel,
            initrd: &initrd,
            cmdline: &cmdline,
            os_release: &plan::os_release(board, &runtime_version),
            boot_deb,
            boot_pkg: &boot_pkg.name,
            mtime,
        },
    )?;
    let mut fat_entries = boot_files;
    fat_entries.push(disk::fat::FatEntry::file(
        "edge.yaml",
        plan::edge_yaml_template(board, opts.site.role).into_bytes(),
    ));
    fat_entries.push(disk::fat::FatEntry::dir("status"));
    fat_entries.push(disk::fat::FatEntry::file(
        plan::MANIFEST_ON_BOOT,
        manifest.to_json().into_bytes(),
    ));
    let volume_id = {
        let id = plan::derive_id(&inputs, "boot-fs");
        u32::from_le_bytes([id[0], id[1], id[2], id[3]])
    };
    let boot_fs = disk::fat::build_fat(
        &disk::fat::FatSpec {
            size_bytes: sizes[0].1,
            label: plan::BOOT_LABEL.to_owned(),
            volume_id,
            timestamp: epoch,
        },
        &fat_entries,
    )?;

    // 9. The disk.
    let file = raw.as_file_mut();
    let out = opts.out.clone();
    let mut task = opts.progress.task("writing image", Some(disk_bytes));
    file.set_len(disk_bytes)
        .map_err(|e| BuildError::output(&out, e))?;
    match board.partitions.table {
        Table::Gpt => {
            let gpt = disk::gpt::Gpt {
                disk_guid: Guid::derive(&plan::derive_id(&inputs, "disk")),
                total_sectors: disk_bytes / 512,
                partitions: partitions
                    .iter()
                    .map(|(label, offset, bytes)| disk::gpt::GptPartition {
                        name: (*label).to_owned(),
                        type_guid: if *label == plan::BOOT_LABEL {
                            Guid::EFI_SYSTEM
                        } else {
                            Guid::LINUX_FILESYSTEM
                        },
                        guid: Guid::derive(&plan::derive_id(&inputs, label)),
                        first_lba: offset / 512,
                        last_lba: (offset + bytes) / 512 - 1,
                        attributes: 0,
                    })
                    .collect(),
            };
            gpt.write(file)?;
        }
        Table::Mbr => {
            let id = plan::derive_id(&inputs, "disk");
            let mbr = disk::mbr::Mbr {
                disk_signature: u32::from_le_bytes([id[0], id[1], id[2], id[3]]),
                partitions: partitions
                    .iter()
                    .map(|(label, offset, bytes)| disk::mbr::MbrPartition {
                        bootable: *label == plan::BOOT_LABEL,
                        kind: if *label == plan::BOOT_LABEL {
                            disk::mbr::FAT32_LBA
                        } else {
                            disk::mbr::LINUX
                        },
                        first_lba: (*offset / 512) as u32,
                        sectors: (*bytes / 512) as u32,
                    })
                    .collect(),
            };
            mbr.write(file)?;
        }
    }
    for ((_, offset, _), fs) in partitions.iter().zip([
        Some(&boot_fs[..]),
        Some(&root_fs[..]),
        None,
        Some(&data_fs[..]),
    ]) {
        if let Some(fs) = fs {
            file.seek(SeekFrom::Start(*offset))
                .and_then(|_| file.write_all(fs))
                .map_err(|e| BuildError::output(&out, e))?;
            task.advance(fs.len() as u64);
        }
    }
    file.sync_all().map_err(|e| BuildError::output(&out, e))?;
    task.finish("done");

    // 10. The requested format, then the name; the hash and manifest beside.
    let final_tmp = match opts.format {
        Format::Raw => raw,
        Format::Qcow2 => {
            let q = tempfile::Builder::new()
                .prefix(".edge-image-")
                .tempfile_in(&out_dir)
                .map_err(|e| BuildError::output(&out, e))?;
            run_tool(
                Command::new("qemu-img")
                    .args(["convert", "-f", "raw", "-O", "qcow2"])
                    .arg(raw.path())
                    .arg(q.path()),
                "qemu-img (package qemu-utils)",
            )?;
            q
        }
    };
    let sha256 = sha256_file(final_tmp.path())?;
    final_tmp
        .persist(&out)
        .map_err(|e| BuildError::output(&out, e.error))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecar = |ext: &str| {
        let mut p = out.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    std::fs::write(sidecar(".sha256"), format!("{sha256}  {name}\n"))
        .map_err(io("cannot write", &sidecar(".sha256")))?;
    std::fs::write(sidecar(".manifest.json"), manifest.to_json())
        .map_err(io("cannot write", &sidecar(".manifest.json")))?;
    Ok(Built {
        manifest,
        sha256,
        out,
    })
}

/// The kernel package's parts the image needs.
struct Kernel {
    release: String,
    vmlinuz: Vec<u8>,
    /// Module name (normalised by [`disk::kmod`]) → path under the release
    /// directory and bytes.
    modules: std::collections::BTreeMap<String, (String, Vec<u8>)>,
    /// Modules built into this kernel (`modules.builtin`): a board may name
    /// them (the same driver is a module in another flavour); nothing to load.
    builtin: std::collections::BTreeSet<String>,
    /// The board's device tree (Pi boards).
    dtb: Option<Vec<u8>>,
}

impl Kernel {
    fn extract(deb: &Path, package: &str, board: &Board) -> Result<Kernel, BuildError> {
        let want_dtb = match &board.boot {
            Boot::Raspberrypi { device_tree, .. } => Some(device_tree.clone()),
            Boot::Uefi { .. } => None,
        };
        let entries = debian::deb::extract(deb, |p| {
            let s = p.to_string_lossy();
            s.starts_with("boot/vmlinuz-")
                || (s.starts_with("lib/modules/")
                    && (s.ends_with(".ko") || s.ends_with("/modules.builtin")))
                || want_dtb.as_ref().is_some_and(|d| {
                    s.starts_with("usr/lib/linux-image-") && s.ends_with(d.as_str())
                })
        })?;
        let pkg_err = |message: String| BuildError::Package {
            package: package.to_owned(),
            message,
        };
        let mut vmlinuz = None;
        let mut release = None;
        let mut files = Vec::new();
        let mut dtb = None;
        let mut builtin = std::collections::BTreeSet::new();
        for e in entries {
            let debian::deb::EntryKind::File(data) = e.kind else {
                continue;
            };
            let path = e.path.to_string_lossy().into_owned();
            if let Some(r) = path.strip_prefix("boot/vmlinuz-") {
                release = Some(r.to_owned());
                vmlinuz = Some(data);
            } else if let Some(rest) = path.strip_prefix("lib/modules/") {
                match rest.split_once('/') {
                    Some((_, "modules.builtin")) => {
                        builtin.extend(String::from_utf8_lossy(&data).lines().filter_map(|l| {
                            let name = l.rsplit('/').next()?.strip_suffix(".ko")?;
                            Some(disk::kmod::normalize_name(name))
                        }));
                    }
                    Some((_, rel)) => files.push((rel.to_owned(), data)),
                    None => {}
                }
            } else if want_dtb.is_some() {
                dtb = Some(data);
            }
        }
        let (Some(vmlinuz), Some(release)) = (vmlinuz, release) else {
            return Err(pkg_err(
                "no boot/vmlinuz-* in the package: is it a kernel image?".into(),
            ));
        };
        let modules = disk::kmod::index(files).map_err(|e| pkg_err(e.to_string()))?;
        if let Some(d) = &want_dtb
            && dtb.is_none()
        {
            return Err(pkg_err(format!(
                "no device tree {d} under usr/lib/linux-image-{release}/ (board device-tree)"
            )));
        }
        Ok(Kernel {
            release,
            vmlinuz,
            modules,
            builtin,
            dtb,
        })
    }
}

struct BootInputs<'a> {
    kernel: &'a Kernel,
    initrd: &'a [u8],
    cmdline: &'a str,
    os_release: &'a str,
    boot_deb: &'a Path,
    boot_pkg: &'a str,
    mtime: u32,
}

/// The boot chain's files on EDGE-BOOT.
fn boot_files(board: &Board, b: &BootInputs<'_>) -> Result<Vec<disk::fat::FatEntry>, BuildError> {
    match &board.boot {
        Boot::Uefi { stub, .. } => {
            let stub_bytes = one_file(b.boot_deb, b.boot_pkg, stub)?;
            let uki = disk::pe::add_sections(
                &stub_bytes,
                &[
                    (".osrel", b.os_release.as_bytes()),
                    (".cmdline", b.cmdline.as_bytes()),
                    (".linux", &b.kernel.vmlinuz),
                    (".initrd", b.initrd),
                ],
                b.mtime,
            )?;
            Ok(vec![disk::fat::FatEntry::file(
                board.arch.efi_boot_path(),
                uki,
            )])
        }
        Boot::Raspberrypi {
            firmware_dir,
            firmware,
            device_tree,
            ..
        } => {
            let mut out = Vec::new();
            let wanted: Vec<String> = firmware
                .iter()
                .map(|f| format!("{firmware_dir}/{f}"))
                .collect();
            let entries =
                debian::deb::extract(b.boot_deb, |p| wanted.iter().any(|w| Path::new(w) == p))?;
            for w in &wanted {
                let data = entries
                    .iter()
                    .find(|e| e.path == Path::new(w))
                    .and_then(|e| match &e.kind {
                        debian::deb::EntryKind::File(d) => Some(d.clone()),
                        _ => None,
                    })
                    .ok_or_else(|| BuildError::Package {
                        package: b.boot_pkg.to_owned(),
                        message: format!("no {w} in the package (board firmware)"),
                    })?;
                let name = w.rsplit('/').next().unwrap_or(w);
                out.push(disk::fat::FatEntry::file(name, data));
            }
            let dtb_name = device_tree.rsplit('/').next().unwrap_or(device_tree);
            out.push(disk::fat::FatEntry::file(
                dtb_name,
                b.kernel.dtb.clone().unwrap_or_default(),
            ));
            out.push(disk::fat::FatEntry::file(
                "vmlinuz",
                b.kernel.vmlinuz.clone(),
            ));
            out.push(disk::fat::FatEntry::file("initrd.img", b.initrd.to_vec()));
            let config = plan::config_txt(board, "vmlinuz", "initrd.img").unwrap_or_default();
            out.push(disk::fat::FatEntry::file("config.txt", config.into_bytes()));
            out.push(disk::fat::FatEntry::file(
                "cmdline.txt",
                format!("{}\n", b.cmdline).into_bytes(),
            ));
            Ok(out)
        }
    }
}

/// One regular file of a package.
fn one_file(deb: &Path, package: &str, path: &str) -> Result<Vec<u8>, BuildError> {
    let entries = debian::deb::extract(deb, |p| p == Path::new(path))?;
    entries
        .into_iter()
        .find_map(|e| match e.kind {
            debian::deb::EntryKind::File(d) => Some(d),
            _ => None,
        })
        .ok_or_else(|| BuildError::Package {
            package: package.to_owned(),
            message: format!("no {path} in the package"),
        })
}

/// Debian's CA certificates, concatenated in name order (what
/// `update-ca-certificates` builds on a Debian system).
fn ca_bundle(deb: &Path) -> Result<Vec<u8>, BuildError> {
    let mut entries = debian::deb::extract(deb, |p| {
        p.starts_with("usr/share/ca-certificates/") && p.extension().is_some_and(|e| e == "crt")
    })?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = Vec::new();
    for e in entries {
        if let debian::deb::EntryKind::File(d) = e.kind {
            out.extend_from_slice(&d);
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
    if out.is_empty() {
        return Err(BuildError::Package {
            package: "ca-certificates".into(),
            message: "no certificates under usr/share/ca-certificates".into(),
        });
    }
    Ok(out)
}

/// Refuses a runtime for another architecture or a dynamically linked one.
fn check_runtime(path: &Path, bytes: &[u8], board: &Board) -> Result<(), BuildError> {
    let err = |message: String| BuildError::Runtime {
        path: path.to_owned(),
        message,
    };
    let info = disk::elf::inspect(bytes).map_err(|e| err(e.to_string()))?;
    let want = match board.arch {
        Arch::X86_64 => disk::elf::ElfArch::X86_64,
        Arch::Aarch64 => disk::elf::ElfArch::Aarch64,
    };
    if info.arch != want {
        return Err(err(format!(
            "an {} binary; board {} needs {} (cargo build --release --target {} -p edge-runtime --bin edged)",
            info.arch,
            board.name,
            board.arch,
            board.arch.rust_target()
        )));
    }
    if !info.static_binary {
        return Err(err(format!(
            "dynamically linked; the image has no C library: build the static musl binary (cargo build --release --target {} -p edge-runtime --bin edged)",
            board.arch.rust_target()
        )));
    }
    Ok(())
}

/// The version marker `edged` carries (see `runtime/src/bin/edged.rs`).
pub fn runtime_version(bytes: &[u8]) -> Option<String> {
    let marker = b"edgeplane-runtime-version=";
    let at = bytes.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let rest = &bytes[at..];
    let end = rest.iter().position(|b| *b == b'\n')?;
    std::str::from_utf8(&rest[..end.min(64)])
        .ok()
        .map(str::to_owned)
}

/// Builds `edged` for the board's target in the checkout this builder comes
/// from, with cargo.
fn build_runtime(arch: Arch, progress: &Progress) -> Result<PathBuf, BuildError> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let target = arch.rust_target();
    let task = progress.task(&format!("building edged for {target}"), None);
    run_tool(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&workspace)
            .args(["build", "--release", "--locked", "--target", target])
            .args(["-p", "edge-runtime", "--bin", "edged"]),
        "cargo build (pass --runtime PATH to use a binary built elsewhere)",
    )?;
    task.finish("built");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Ok(target_dir.join(target).join("release/edged"))
}

fn run_tool(cmd: &mut Command, tool: &str) -> Result<(), BuildError> {
    let out = cmd.output().map_err(|e| BuildError::Tool {
        tool: tool.to_owned(),
        message: format!(
            "cannot start {:?}: {e} (is it installed? see the README's host tools)",
            cmd.get_program()
        ),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    Err(BuildError::Tool {
        tool: tool.to_owned(),
        message: format!(
            "{}: {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    })
}

/// The root tree as an erofs image (lz4hc), with fixed timestamps, owner and
/// UUID.
fn make_erofs(tree: &Tree, epoch: u64, uuid: Guid) -> Result<Vec<u8>, BuildError> {
    let staging = tempfile::tempdir().map_err(io("cannot create", Path::new("staging dir")))?;
    let dir = staging.path().join("root");
    std::fs::create_dir(&dir).map_err(io("cannot create", &dir))?;
    tree.write_into(&dir).map_err(io("cannot stage", &dir))?;
    let image = staging.path().join("root.erofs");
    run_tool(
        Command::new("mkfs.erofs")
            .arg("--quiet")
            .arg(format!("-T{epoch}"))
            .arg(format!("-U{}", uuid.to_string().to_lowercase()))
            .args(["--all-root", "-zlz4hc"])
            .arg(&image)
            .arg(&dir)
            .env("SOURCE_DATE_EPOCH", epoch.to_string()),
        "mkfs.erofs (package erofs-utils)",
    )?;
    std::fs::read(&image).map_err(io("cannot read", &image))
}

/// An empty ext4 filesystem labelled EDGE-DATA, reproducible: fixed UUID,
/// hash seed and time.
fn make_ext4(bytes: u64, epoch: u64, uuid: Guid) -> Result<Vec<u8>, BuildError> {
    let staging = tempfile::tempdir().map_err(io("cannot create", Path::new("staging dir")))?;
    let image = staging.path().join("data.ext4");
    let f = File::create(&image).map_err(io("cannot create", &image))?;
    f.set_len(bytes).map_err(io("cannot size", &image))?;
    drop(f);
    let uuid = uuid.to_string().to_lowercase();
    run_tool(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", plan::DATA_LABEL, "-U", &uuid, "-m", "0"])
            .arg("-E")
            .arg(format!(
                "hash_seed={uuid},root_owner=0:0,lazy_itable_init=0"
            ))
            .arg(&image)
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
            .env("SOURCE_DATE_EPOCH", epoch.to_string()),
        "mkfs.ext4 (package e2fsprogs)",
    )?;
    std::fs::read(&image).map_err(io("cannot read", &image))
}

fn sha256_file(path: &Path) -> Result<String, BuildError> {
    use std::io::Read;
    let mut f = File::open(path).map_err(io("cannot read", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_version_is_read_from_the_marker() {
        let mut b = b"\x7fELF....".to_vec();
        b.extend_from_slice(b"edgeplane-runtime-version=0.1.0\n\0more");
        assert_eq!(runtime_version(&b).as_deref(), Some("0.1.0"));
        assert_eq!(runtime_version(b"no marker"), None);
    }
}
