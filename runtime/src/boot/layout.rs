//! Where things are on a device, or under `--root DIR` in tests.
//!
//! Owns the paths `edged init` reads and writes. Must not do IO.
//!
//! | what | device | `--root DIR` |
//! |---|---|---|
//! | site config (in the image) | `/usr/lib/edge/site.yaml` | `DIR/usr/lib/edge/site.yaml` |
//! | boot partition (EDGE-BOOT) | mounted on `/boot` | `DIR/boot` |
//! | data partition (EDGE-DATA) | mounted on `/var/lib/edge` | `DIR/data` |
//! | runtime config, kubeconfig | `/etc/edge/` (tmpfs) | `DIR/etc/edge/` |
//! | kernel command line | `/proc/cmdline` | `DIR/proc/cmdline` (if present) |
//! | notify socket, records | `/run/edge/` | `DIR/run/edge/` |
//! | DNS servers | `/run/resolv.conf` (`/etc/resolv.conf` links to it: the root is read-only) | `DIR/run/resolv.conf` |

use std::path::{Path, PathBuf};

use edge_config::render::RuntimePaths;

/// Partition labels, as the image builder writes them.
pub use edge_config::device::{BOOT_LABEL, DATA_LABEL};

#[derive(Debug, Clone)]
pub struct Layout {
    /// `None` on a device.
    pub root: Option<PathBuf>,
    pub site_config: PathBuf,
    pub boot_mount: PathBuf,
    pub data_mount: PathBuf,
    pub etc_edge: PathBuf,
    pub resolv_conf: PathBuf,
    pub run_dir: PathBuf,
    pub cmdline: PathBuf,
}

impl Layout {
    /// The paths on a device.
    pub fn device() -> Self {
        Self::at(Path::new("/"), None)
    }

    /// The paths under a test root.
    pub fn under(root: &Path) -> Self {
        let mut l = Self::at(root, Some(root.to_owned()));
        l.data_mount = root.join("data");
        l
    }

    fn at(base: &Path, root: Option<PathBuf>) -> Self {
        Self {
            root,
            site_config: base.join(edge_config::device::SITE_CONFIG),
            boot_mount: base.join("boot"),
            data_mount: base.join("var/lib/edge"),
            etc_edge: base.join("etc/edge"),
            resolv_conf: base.join("run/resolv.conf"),
            run_dir: base.join("run/edge"),
            cmdline: base.join("proc/cmdline"),
        }
    }

    pub fn edge_yaml(&self) -> PathBuf {
        self.boot_mount.join("edge.yaml")
    }

    pub fn status_dir(&self) -> PathBuf {
        self.boot_mount.join("status")
    }

    pub fn runtime_config(&self) -> PathBuf {
        self.etc_edge.join("config.yaml")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.etc_edge.join("edge.yaml")
    }

    /// Where the token lives once moved off the boot partition.
    pub fn token_file(&self) -> PathBuf {
        self.data_mount.join("init/token")
    }

    pub fn notify_socket(&self) -> PathBuf {
        self.run_dir.join("notify.sock")
    }

    pub fn runtime_paths(&self) -> RuntimePaths {
        RuntimePaths {
            data_dir: self.data_mount.clone(),
            kubeconfig: self.kubeconfig(),
            token_file: self.token_file(),
        }
    }
}
