//! Machines tier: images built by `edge-image` from Debian's packages and the
//! static runtimes, booted in QEMU under software emulation with the real
//! UEFI firmware (OVMF, AAVMF), and reached from the host the way an
//! operator reaches a device: `edgectl kubeconfig --server --token`, then
//! `kubectl`.
//!
//! One image per board is built per run and shared; each guest boots a
//! copy-on-write overlay of it, one guest at a time.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use edge_image::disk::{fat, gpt::Gpt};
use support::{Machine, ONE_GUEST, TOKEN, build_image, said, single_server_site};

/// Generous: software emulation on a loaded two-core machine.
const BOOT: Duration = Duration::from_secs(300);
const READY: Duration = Duration::from_secs(600);

fn images_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("images");
    std::fs::create_dir_all(&d).expect("images dir");
    d
}

/// The image of a board, built once per test binary.
fn shared_image(board: &'static str, target: &'static str) -> Option<PathBuf> {
    static X86: OnceLock<Option<PathBuf>> = OnceLock::new();
    static ARM: OnceLock<Option<PathBuf>> = OnceLock::new();
    let cell = if target.starts_with("x86_64") {
        &X86
    } else {
        &ARM
    };
    cell.get_or_init(|| build_image(board, target, &single_server_site(), &images_dir(), board))
        .clone()
}

/// Boots the board's image, fetches an admin kubeconfig through the
/// forwarded API port with the site's token, and waits for the node to be
/// Ready with the site config's label.
fn boots_to_a_ready_node(board: &'static str, target: &'static str, machine: Option<Machine>) {
    let Some(machine) = machine else { return };
    let (Some(image), Some(edgectl), Some(kubectl)) = (
        shared_image(board, target),
        support::edgectl(),
        edge_testkit::kubectl(),
    ) else {
        return;
    };
    let _one = ONE_GUEST.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().expect("tempdir");
    let disk = support::overlay(&image, work.path(), board);
    let guest = machine.boot(&disk);
    guest.wait_line("edge-initramfs: root is", BOOT);
    let kubeconfig = work.path().join("kubeconfig");
    let server = format!("https://127.0.0.1:{}", guest.api_port);
    guest.until("edgectl kubeconfig", READY, || {
        let o = Command::new(&edgectl)
            .args(["kubeconfig", "--server", &server, "--token", TOKEN, "-o"])
            .arg(&kubeconfig)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(said(&o))
        }
    });
    let ready = guest.until("the node Ready", READY, || {
        let o = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args([
                "get",
                "nodes",
                "-l",
                "edgeplane.test/image=true",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() && text.trim_end().ends_with("=True") {
            Ok(text)
        } else {
            Err(said(&o))
        }
    });
    assert_eq!(ready.lines().count(), 1, "one node: {ready}");
}

#[test]
fn x86_64_generic_boots_with_ovmf_and_kubectl_sees_the_node_ready() {
    boots_to_a_ready_node(
        "x86_64-generic",
        "x86_64-unknown-linux-musl",
        Machine::x86_64(),
    );
}

#[test]
fn aarch64_generic_boots_with_aavmf_and_kubectl_sees_the_node_ready() {
    boots_to_a_ready_node(
        "aarch64-generic",
        "aarch64-unknown-linux-musl",
        Machine::aarch64(),
    );
}

/// The EDGE-BOOT partition of a raw image: its offset and bytes.
fn boot_partition(image: &Path) -> (u64, Vec<u8>) {
    let mut f = std::fs::File::open(image).expect("image");
    let gpt = Gpt::read(&mut f).expect("GPT");
    let p = gpt
        .partitions
        .iter()
        .find(|p| p.name == "EDGE-BOOT")
        .expect("EDGE-BOOT");
    let offset = p.first_lba * 512;
    let len = (p.last_lba + 1 - p.first_lba) * 512;
    (offset, support::read_range(image, offset, len))
}

#[test]
fn a_bad_edge_yaml_on_the_boot_partition_brings_up_maintenance_mode_with_the_error() {
    let Some(machine) = Machine::x86_64() else {
        return;
    };
    let Some(image) = shared_image("x86_64-generic", "x86_64-unknown-linux-musl") else {
        return;
    };
    let _one = ONE_GUEST.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().expect("tempdir");
    // What an operator does on a laptop: edit edge.yaml on the FAT partition.
    let disk = work.path().join("bad.img");
    std::fs::copy(&image, &disk).expect("copy image");
    let (offset, boot) = boot_partition(&disk);
    let mut entries: Vec<fat::FatEntry> = fat::read_fat(&boot)
        .expect("FAT")
        .into_iter()
        .map(|(path, data)| {
            if path == "edge.yaml" {
                fat::FatEntry::file(path, b"role: server\nvip:\n  priority: 900\n".to_vec())
            } else {
                fat::FatEntry::file(path, data)
            }
        })
        .collect();
    entries.push(fat::FatEntry::dir("status"));
    let rebuilt = fat::build_fat(
        &fat::FatSpec {
            size_bytes: boot.len() as u64,
            label: "EDGE-BOOT".into(),
            volume_id: 0x0EDC_0001,
            timestamp: 1_765_000_000,
        },
        &entries,
    )
    .expect("rebuild FAT");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&disk)
            .expect("open");
        f.seek(SeekFrom::Start(offset)).expect("seek");
        f.write_all(&rebuilt).expect("write FAT");
    }

    let guest = machine.boot(&disk);
    guest.wait_line("maintenance mode", READY);
    let url = format!("https://127.0.0.1:{}/v1-edge/status", guest.api_port);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    let status = guest.until("GET /v1-edge/status", BOOT, || {
        let mut r = agent.get(&url).call().map_err(|e| e.to_string())?;
        r.body_mut().read_to_string().map_err(|e| e.to_string())
    });
    assert!(
        status.contains("vip.priority"),
        "the status endpoint names the bad key: {status}"
    );
    assert!(!status.contains(TOKEN), "no token in the status: {status}");
    drop(guest);

    // Afterwards, on the laptop: status/last-error.txt on the FAT partition.
    let (_, boot) = boot_partition(&disk);
    let files = fat::read_fat(&boot).expect("FAT after boot");
    let last_error = files
        .iter()
        .find(|(p, _)| p == "status/last-error.txt")
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_else(|| {
            panic!(
                "no status/last-error.txt; files: {:?}",
                files.iter().map(|(p, _)| p).collect::<Vec<_>>()
            )
        });
    assert!(
        last_error.contains("edge.yaml:3:") && last_error.contains("vip.priority"),
        "status/last-error.txt: {last_error:?}; files: {:?}",
        files.iter().map(|(p, d)| (p, d.len())).collect::<Vec<_>>()
    );
    let o = support::edge_image(&["inspect", disk.to_str().expect("utf-8")], &[]);
    assert!(o.status.success(), "{}", said(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("status/last-error.txt:"),
        "inspect shows the device's status: {}",
        said(&o)
    );
}

#[test]
fn two_builds_with_the_same_inputs_are_byte_identical() {
    let Some(first) = shared_image("x86_64-generic", "x86_64-unknown-linux-musl") else {
        return;
    };
    let Some(second) = build_image(
        "x86_64-generic",
        "x86_64-unknown-linux-musl",
        &single_server_site(),
        &images_dir(),
        "x86_64-generic-again",
    ) else {
        return;
    };
    let sha = |p: &Path| {
        let s = std::fs::read_to_string(format!("{}.sha256", p.display())).expect("sha256 file");
        s.split_whitespace().next().expect("hash").to_owned()
    };
    assert_eq!(sha(&first), sha(&second), "the images' hashes differ");
    assert!(support::same_bytes(&first, &second), "the images differ");
    let manifest = |p: &Path| {
        std::fs::read_to_string(format!("{}.manifest.json", p.display())).expect("manifest")
    };
    assert_eq!(manifest(&first), manifest(&second));
}

#[test]
fn the_raspberry_pi_4_image_is_what_its_firmware_reads() {
    let dir = images_dir();
    let Some(image) = build_image(
        "raspberrypi-4",
        "aarch64-unknown-linux-musl",
        &single_server_site(),
        &dir,
        "raspberrypi-4",
    ) else {
        return;
    };
    let o = support::edge_image(
        &["inspect", "-o", "json", image.to_str().expect("utf-8")],
        &[],
    );
    assert!(o.status.success(), "{}", said(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["table"], "mbr", "{report:#}");
    let parts = report["partitions"].as_array().expect("partitions");
    let fs: Vec<(&str, &str)> = parts
        .iter()
        .map(|p| {
            (
                p["filesystem"].as_str().unwrap_or(""),
                p["label"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        fs,
        [
            ("vfat", "EDGE-BOOT"),
            ("erofs", ""),
            ("empty", ""),
            ("ext4", "EDGE-DATA")
        ],
        "{report:#}"
    );
    // The firmware's files, in the FAT partition's root.
    let mut f = std::fs::File::open(&image).expect("image");
    let mbr = edge_image::disk::mbr::Mbr::read(&mut f).expect("MBR");
    let first = &mbr.partitions[0];
    assert!(first.bootable && first.kind == edge_image::disk::mbr::FAT32_LBA);
    let boot = support::read_range(
        &image,
        u64::from(first.first_lba) * 512,
        u64::from(first.sectors) * 512,
    );
    let files = fat::read_fat(&boot).expect("FAT");
    let file = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| {
                panic!(
                    "no {name} on EDGE-BOOT: {:?}",
                    files.iter().map(|(p, _)| p).collect::<Vec<_>>()
                )
            })
    };
    for name in [
        "start4.elf",
        "fixup4.dat",
        "bcm2711-rpi-4-b.dtb",
        "vmlinuz",
        "initrd.img",
        "edge.yaml",
    ] {
        assert!(!file(name).is_empty(), "{name} is empty");
    }
    let config = String::from_utf8(file("config.txt")).expect("config.txt");
    for line in [
        "arm_64bit=1",
        "kernel=vmlinuz",
        "initramfs initrd.img followkernel",
        "device_tree=bcm2711-rpi-4-b.dtb",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "config.txt lacks {line}:\n{config}"
        );
    }
    let cmdline = String::from_utf8(file("cmdline.txt")).expect("cmdline.txt");
    assert_eq!(
        cmdline.lines().count(),
        1,
        "cmdline.txt is one line: {cmdline}"
    );
    assert!(cmdline.contains("console=ttyS1,115200"), "{cmdline}");
    // The arm64 kernel Image: "ARMd" at byte 56.
    assert_eq!(&file("vmlinuz")[56..60], b"ARM\x64");
    assert!(
        String::from_utf8(file("edge.yaml"))
            .expect("edge.yaml")
            .contains("\nrole: server\n"),
        "the template applies the site's role"
    );
}

#[test]
fn a_qcow2_image_holds_the_same_disk_as_the_raw_one() {
    let Some(raw) = shared_image("x86_64-generic", "x86_64-unknown-linux-musl") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let Some(qcow2) = support::build_image_to(
        "x86_64-generic",
        "x86_64-unknown-linux-musl",
        &single_server_site(),
        &work.path().join("site.qcow2"),
        &["--format", "qcow2"],
    ) else {
        return;
    };
    assert_eq!(support::read_range(&qcow2, 0, 4), b"QFI\xfb");
    let back = work.path().join("back.raw");
    let c = Command::new("qemu-img")
        .args(["convert", "-f", "qcow2", "-O", "raw"])
        .arg(&qcow2)
        .arg(&back)
        .output()
        .expect("qemu-img");
    assert!(c.status.success(), "{}", said(&c));
    assert!(
        support::same_bytes(&back, &raw),
        "the qcow2 image's disk differs from the raw image"
    );
    let o = support::edge_image(
        &["inspect", "-o", "json", qcow2.to_str().expect("utf-8")],
        &[],
    );
    assert!(o.status.success(), "{}", said(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["format"], "qcow2");
    assert_eq!(report["manifest"]["board"], "x86_64-generic");
}
