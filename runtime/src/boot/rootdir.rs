//! The directory-backed system `edged init --root DIR` uses: `DIR/boot` and
//! `DIR/data` stand in for the partitions (an empty `DIR/data` is a blank
//! partition), `DIR/proc/cmdline` for the kernel command line, and every
//! action that would change the machine (mounts, mkfs, hostname, addresses,
//! DHCP) is recorded, one line each, in `DIR/run/edge/system.log` instead.
//!
//! Owns nothing on the host outside `DIR`. Must not touch the host's
//! network, hostname or mounts.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::BootError;
use super::layout::{BOOT_LABEL, DATA_LABEL, Layout};
use super::probe::FsKind;
use super::system::{Network, Platform};
use edge_config::edge::HostAddress;

/// A system under a root directory.
pub struct RootDir {
    layout: Layout,
    log: PathBuf,
    actions: Mutex<Vec<String>>,
}

impl RootDir {
    pub fn new(layout: Layout) -> Self {
        let log = layout.run_dir.join("system.log");
        Self {
            layout,
            log,
            actions: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, action: String) {
        tracing::info!(action = %action, "recorded (--root)");
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(f, "{action}");
        }
        if let Ok(mut a) = self.actions.lock() {
            a.push(action);
        }
    }

    /// What was recorded, in order.
    pub fn actions(&self) -> Vec<String> {
        self.actions.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Platform for RootDir {
    fn mount_api_filesystems(&self) -> Vec<String> {
        self.record("skip mounting proc, sys, dev, run, tmp, /etc/edge (--root)".into());
        Vec::new()
    }

    fn find_partition(&self, label: &str) -> Result<Option<PathBuf>, BootError> {
        let dir = match label {
            BOOT_LABEL => &self.layout.boot_mount,
            DATA_LABEL => &self.layout.data_mount,
            _ => return Ok(None),
        };
        Ok(dir.is_dir().then(|| dir.clone()))
    }

    fn probe(&self, device: &Path) -> Result<FsKind, BootError> {
        if device == self.layout.boot_mount {
            return Ok(FsKind::Vfat {
                label: BOOT_LABEL.into(),
            });
        }
        let empty = std::fs::read_dir(device)
            .map_err(|e| BootError::io("cannot list", device, e))?
            .next()
            .is_none();
        Ok(if empty {
            FsKind::Blank
        } else {
            FsKind::Ext4 {
                label: DATA_LABEL.into(),
            }
        })
    }

    fn make_ext4(&self, device: &Path, label: &str) -> Result<(), BootError> {
        self.record(format!("mkfs.ext4 -L {label} {}", device.display()));
        let lf = device.join("lost+found");
        std::fs::create_dir_all(&lf).map_err(|e| BootError::io("cannot create", lf, e))
    }

    fn mount(&self, device: &Path, target: &Path, fstype: &str) -> Result<(), BootError> {
        self.record(format!(
            "mount {} on {} ({fstype})",
            device.display(),
            target.display()
        ));
        Ok(())
    }

    fn kernel_cmdline(&self) -> Result<String, BootError> {
        match std::fs::read_to_string(&self.layout.cmdline) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(BootError::io("cannot read", &self.layout.cmdline, e)),
        }
    }
}

impl Network for RootDir {
    fn set_hostname(&self, name: &str) -> Result<(), BootError> {
        self.record(format!("hostname {name}"));
        Ok(())
    }

    fn interfaces(&self) -> Result<Vec<String>, BootError> {
        let dir = self
            .layout
            .root
            .clone()
            .unwrap_or_default()
            .join("sys/class/net");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "lo")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    fn hardware_address(&self, interface: &str) -> Option<String> {
        let path = self
            .layout
            .root
            .clone()
            .unwrap_or_default()
            .join("sys/class/net")
            .join(interface)
            .join("address");
        std::fs::read_to_string(path)
            .ok()
            .map(|a| a.trim().to_owned())
    }

    fn loopback_up(&self) -> Result<(), BootError> {
        self.record("link lo up".into());
        Ok(())
    }

    fn configure_static(
        &self,
        interface: &str,
        address: HostAddress,
        gateway: Option<IpAddr>,
    ) -> Result<(), BootError> {
        self.record(format!(
            "static {interface} {address}{}",
            gateway.map(|g| format!(" via {g}")).unwrap_or_default()
        ));
        Ok(())
    }

    fn start_dhcp(&self, interface: &str, hostname: Option<&str>) -> Result<(), BootError> {
        self.record(format!(
            "dhcp {interface}{}",
            hostname
                .map(|h| format!(" hostname {h}"))
                .unwrap_or_default()
        ));
        Ok(())
    }

    fn write_resolv_conf(&self, dns: &[IpAddr]) -> Result<(), BootError> {
        let text: String = dns.iter().map(|d| format!("nameserver {d}\n")).collect();
        self.record(format!(
            "resolv.conf {}",
            dns.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ));
        super::status::write_atomic(&self.layout.resolv_conf, text.as_bytes(), Some(0o644))
    }
}
