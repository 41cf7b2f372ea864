//! System access for `edged init`, behind two small traits: [`Platform`]
//! (mounts, partitions, the kernel command line) and [`Network`] (hostname,
//! interfaces, DHCP, DNS). [`Linux`] is the real thing; `super::rootdir` is the
//! directory-backed stand-in for `--root`.
//!
//! Owns the syscalls and commands. Must not decide anything: the init role
//! says what to do, these only do it.

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::BootError;
use super::layout::Layout;
use super::netlink;
use super::probe::{self, FsKind};
use edge_config::edge::HostAddress;

/// Mounts, partitions and the kernel command line.
pub trait Platform {
    /// Mounts proc, sys, dev, run, tmp and /etc/edge; returns what it did.
    fn mount_api_filesystems(&self) -> Vec<String>;
    /// The block device carrying `label` (filesystem label, or GPT partition name).
    fn find_partition(&self, label: &str) -> Result<Option<PathBuf>, BootError>;
    fn probe(&self, device: &Path) -> Result<FsKind, BootError>;
    fn make_ext4(&self, device: &Path, label: &str) -> Result<(), BootError>;
    fn mount(&self, device: &Path, target: &Path, fstype: &str) -> Result<(), BootError>;
    fn kernel_cmdline(&self) -> Result<String, BootError>;
}

/// Hostname and interfaces.
pub trait Network {
    fn set_hostname(&self, name: &str) -> Result<(), BootError>;
    /// Interfaces other than loopback.
    fn interfaces(&self) -> Result<Vec<String>, BootError>;
    /// An interface's hardware (MAC) address, `aa:bb:cc:dd:ee:ff`.
    fn hardware_address(&self, interface: &str) -> Option<String>;
    fn loopback_up(&self) -> Result<(), BootError>;
    fn configure_static(
        &self,
        interface: &str,
        address: HostAddress,
        gateway: Option<IpAddr>,
    ) -> Result<(), BootError>;
    /// Starts a DHCP client that keeps the lease (it daemonizes).
    fn start_dhcp(&self, interface: &str, hostname: Option<&str>) -> Result<(), BootError>;
    fn write_resolv_conf(&self, dns: &[IpAddr]) -> Result<(), BootError>;
}

/// The real system.
#[derive(Debug, Clone)]
pub struct Linux {
    pub layout: Layout,
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/sbin:/usr/sbin:/bin:/usr/bin".into());
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn run(cmd: &mut Command) -> Result<(), BootError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| BootError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BootError::Command {
            command: shown,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

impl Platform for Linux {
    fn mount_api_filesystems(&self) -> Vec<String> {
        use nix::mount::{MsFlags, mount};
        let common = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        let table: &[(&str, &str, &str, MsFlags, Option<&str>)] = &[
            ("proc", "/proc", "proc", common | MsFlags::MS_NOEXEC, None),
            ("sysfs", "/sys", "sysfs", common | MsFlags::MS_NOEXEC, None),
            (
                "devtmpfs",
                "/dev",
                "devtmpfs",
                MsFlags::MS_NOSUID,
                Some("mode=0755"),
            ),
            ("tmpfs", "/run", "tmpfs", common, Some("mode=0755")),
            ("tmpfs", "/tmp", "tmpfs", common, Some("mode=1777")),
            // The root is read-only: /etc/edge (runtime config, kubeconfig) is
            // regenerated at every boot.
            (
                "tmpfs",
                "/etc/edge",
                "tmpfs",
                common | MsFlags::MS_NOEXEC,
                Some("mode=0755"),
            ),
        ];
        let mut done = Vec::new();
        for (src, target, fstype, flags, data) in table {
            let _ = std::fs::create_dir_all(target);
            match mount(Some(*src), *target, Some(*fstype), *flags, *data) {
                Ok(()) => done.push(format!("mounted {fstype} on {target}")),
                Err(nix::errno::Errno::EBUSY) => {}
                Err(e) => done.push(format!("could not mount {fstype} on {target}: {e}")),
            }
        }
        done
    }

    fn find_partition(&self, label: &str) -> Result<Option<PathBuf>, BootError> {
        let sys = Path::new("/sys/class/block");
        let entries = std::fs::read_dir(sys).map_err(|e| BootError::io("cannot list", sys, e))?;
        let mut by_partname = None;
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.join("partition").exists() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join("uevent")) else {
                continue;
            };
            let (Some(dev), part) = probe::uevent(&text) else {
                continue;
            };
            let device = Path::new("/dev").join(dev);
            let fs_label = match self.probe(&device) {
                Ok(FsKind::Ext4 { label } | FsKind::Vfat { label }) => Some(label),
                _ => None,
            };
            if fs_label.as_deref() == Some(label) {
                return Ok(Some(device));
            }
            if part.as_deref() == Some(label) && by_partname.is_none() {
                by_partname = Some(device);
            }
        }
        Ok(by_partname)
    }

    fn probe(&self, device: &Path) -> Result<FsKind, BootError> {
        let mut f =
            std::fs::File::open(device).map_err(|e| BootError::io("cannot open", device, e))?;
        let mut buf = Vec::with_capacity(probe::PROBE_BYTES);
        f.by_ref()
            .take(probe::PROBE_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(|e| BootError::io("cannot read", device, e))?;
        Ok(probe::probe(&buf))
    }

    fn make_ext4(&self, device: &Path, label: &str) -> Result<(), BootError> {
        let program = find_program(&["mkfs.ext4", "mke2fs"]).ok_or_else(|| BootError::Command {
            command: "mkfs.ext4".into(),
            detail: "neither mkfs.ext4 nor mke2fs is on the image".into(),
        })?;
        let mut cmd = Command::new(&program);
        if program.ends_with("mke2fs") {
            cmd.args(["-t", "ext4"]);
        }
        run(cmd.args(["-q", "-F", "-L", label]).arg(device))
    }

    fn mount(&self, device: &Path, target: &Path, fstype: &str) -> Result<(), BootError> {
        use nix::mount::{MsFlags, mount};
        std::fs::create_dir_all(target).map_err(|e| BootError::io("cannot create", target, e))?;
        // FAT has no permissions: keep it root's (the token may be on it).
        let data = (fstype == "vfat").then_some("fmask=0177,dmask=0077,utf8");
        mount(
            Some(device),
            target,
            Some(fstype),
            MsFlags::MS_NOATIME | MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            data,
        )
        .map_err(|e| BootError::io("cannot mount", target, std::io::Error::from(e)))
    }

    fn kernel_cmdline(&self) -> Result<String, BootError> {
        std::fs::read_to_string(&self.layout.cmdline)
            .map_err(|e| BootError::io("cannot read", &self.layout.cmdline, e))
    }
}

impl Network for Linux {
    fn set_hostname(&self, name: &str) -> Result<(), BootError> {
        nix::unistd::sethostname(name).map_err(|e| BootError::Network {
            interface: "hostname".into(),
            message: format!("cannot set the hostname: {e}"),
        })
    }

    fn interfaces(&self) -> Result<Vec<String>, BootError> {
        netlink::blocking(netlink::links()).map_err(|message| BootError::Network {
            interface: "links".into(),
            message,
        })
    }

    fn hardware_address(&self, interface: &str) -> Option<String> {
        let path = Path::new("/sys/class/net").join(interface).join("address");
        std::fs::read_to_string(path)
            .ok()
            .map(|a| a.trim().to_owned())
    }

    fn loopback_up(&self) -> Result<(), BootError> {
        netlink::blocking(netlink::link_up("lo")).map_err(|message| BootError::Network {
            interface: "lo".into(),
            message,
        })
    }

    fn configure_static(
        &self,
        interface: &str,
        address: HostAddress,
        gateway: Option<IpAddr>,
    ) -> Result<(), BootError> {
        let name = interface.to_owned();
        netlink::blocking(async move { netlink::configure(&name, address, gateway).await }).map_err(
            |message| BootError::Network {
                interface: interface.into(),
                message,
            },
        )
    }

    fn start_dhcp(&self, interface: &str, hostname: Option<&str>) -> Result<(), BootError> {
        let name = interface.to_owned();
        netlink::blocking(async move { netlink::link_up(&name).await }).map_err(|message| {
            BootError::Network {
                interface: interface.into(),
                message,
            }
        })?;
        let mut cmd = if let Some(p) = find_program(&["udhcpc"]) {
            Command::new(p)
        } else if let Some(p) = find_program(&["busybox"]) {
            let mut c = Command::new(p);
            c.arg("udhcpc");
            c
        } else {
            return Err(BootError::Network {
                interface: interface.into(),
                message: "dhcp: no DHCP client on the image (busybox udhcpc)".into(),
            });
        };
        // -b: go to the background if no lease comes within the tries, and
        // keep trying there; the daemon is reaped by init when it exits.
        cmd.args(["-i", interface, "-b", "-t", "5", "-T", "2", "-S"]);
        if let Some(h) = hostname {
            cmd.args(["-x", &format!("hostname:{h}")]);
        }
        run(&mut cmd)
    }

    fn write_resolv_conf(&self, dns: &[IpAddr]) -> Result<(), BootError> {
        let text: String = dns.iter().map(|d| format!("nameserver {d}\n")).collect();
        super::status::write_atomic(&self.layout.resolv_conf, text.as_bytes(), Some(0o644))
    }
}
