//! What goes into an image, as text and names: the kernel command line, the
//! initramfs `/init`, the DHCP hook, `os-release`, the Pi's `config.txt`, the
//! `edge.yaml` template, and the identifiers derived from the build's inputs.
//!
//! Owns how the image reaches `edged init` (the initramfs, PID 1, the DHCP
//! hook); the partition labels and the site config's path are
//! [`edge_config::device`]'s, shared with `edged init`. Must not do IO:
//! [`crate::build`] writes what this module says.

use sha2::{Digest, Sha256};

use crate::board::{Board, Boot};

/// Partition labels and the site config's place, as `edged init` reads them.
pub use edge_config::device::{BOOT_LABEL, DATA_LABEL, ROOT_A_LABEL, ROOT_B_LABEL, SITE_CONFIG};
/// The runtime in the root filesystem; `edged init` is PID 1.
pub const RUNTIME: &str = "usr/bin/edged";
/// The image's own description on EDGE-BOOT, read by `edge-image inspect`.
pub const MANIFEST_ON_BOOT: &str = "edge-image.json";
/// The list of modules the initramfs loads, in order.
pub const MODULE_LIST: &str = "etc/edge-modules";

/// Timestamps in the image when `SOURCE_DATE_EPOCH` is not set: FAT's epoch,
/// 1980-01-01, so builds are reproducible without it.
pub const DEFAULT_EPOCH: u64 = 315_532_800;

/// Mount points `edged init` needs on the read-only root.
pub const ROOT_DIRS: &[&str] = &[
    "bin",
    "boot",
    "dev",
    "etc",
    "etc/edge",
    "etc/ssl/certs",
    "proc",
    "run",
    "sys",
    "tmp",
    "usr/bin",
    "usr/lib/edge",
    "etc/udhcpc",
    "var/lib/edge",
];

/// busybox applets linked in the root: the DHCP client and its hook's
/// shell and `ip`, and what an operator on the serial console reaches for.
pub const ROOT_APPLETS: &[&str] = &[
    "cat", "df", "dmesg", "free", "grep", "ip", "kill", "less", "ls", "mount", "ping", "ps",
    "reboot", "sh", "top", "udhcpc", "umount", "uname", "vi",
];

/// The kernel command line: consoles (the last one is `/dev/console`, where
/// `edged init` logs), the board's arguments, then the build's (`edge.*`
/// ones are the top configuration layer).
pub fn cmdline(board: &Board, extra: &[String]) -> String {
    let mut args: Vec<String> = board
        .console
        .iter()
        .map(|c| format!("console={c}"))
        .collect();
    args.push("ro".into());
    args.push("rootwait".into());
    args.push("panic=30".into());
    args.extend(board.cmdline.iter().cloned());
    args.extend(extra.iter().cloned());
    args.join(" ")
}

/// The initramfs's `/init`: loads the modules listed in [`MODULE_LIST`],
/// waits for EDGE-ROOT-A (by GPT name; on MBR disks, partition 2 of the disk
/// whose partition 1 is the FAT EDGE-BOOT), mounts it read-only and makes
/// `edged init` PID 1 there.
pub fn init_script() -> String {
    format!(
        r#"#!/bin/busybox sh
# The initramfs of an Edgeplane image, written by edge-image: load the board's
# kernel modules, find {ROOT_A_LABEL}, mount it read-only, and hand PID 1 to
# `edged init` there. Nothing here reads the configuration.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() {{ echo "edge-initramfs: $*" >/dev/console; }}
fail() {{
  say "$*; rebooting in 30 s"
  sleep 30
  reboot -f
}}
while read -r module; do
  insmod "/lib/modules/$module" || say "cannot load $module"
done </{MODULE_LIST}
root=
tries=0
while [ -z "$root" ]; do
  for u in /sys/class/block/*/uevent; do
    if grep -qx 'PARTNAME={ROOT_A_LABEL}' "$u"; then
      root=/dev/$(sed -n 's/^DEVNAME=//p' "$u")
    fi
  done
  if [ -z "$root" ] && boot=$(findfs LABEL={BOOT_LABEL} 2>/dev/null); then
    root="${{boot%[0-9]}}2"
  fi
  if [ -n "$root" ] && [ ! -b "$root" ]; then root=; fi
  tries=$((tries + 1))
  if [ -z "$root" ]; then
    [ "$tries" -ge 300 ] && fail "no {ROOT_A_LABEL} partition after 30 s"
    sleep 0.1
  fi
done
mkdir -p /newroot
mount -t erofs -o ro "$root" /newroot || fail "cannot mount $root ({ROOT_A_LABEL}, erofs)"
say "root is $root"
for fs in dev proc sys; do mount --move "/$fs" "/newroot/$fs"; done
exec switch_root /newroot /{RUNTIME} init
"#
    )
}

/// busybox udhcpc's hook (`/etc/udhcpc/default.script`, where Debian's busybox looks): busybox ships
/// none. Adds the leased address without flushing the interface, so a
/// renewal never drops the VRRP virtual address.
pub fn udhcpc_script() -> &'static str {
    r#"#!/bin/sh
# udhcpc hook, written by edge-image: apply the lease to the interface, and
# say so on the kernel log (the serial console).
echo "edge-udhcpc: $interface $1 ${ip:+$ip/${mask:-24}} ${router:+via $router}" >/dev/kmsg 2>/dev/null
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr add "$ip/${mask:-24}" dev "$interface" 2>/dev/null
    if [ -n "$router" ]; then
      ip -4 route replace default via "${router%% *}" dev "$interface"
    fi
    if [ -n "$dns" ]; then
      : >/run/resolv.conf.new
      for d in $dns; do echo "nameserver $d" >>/run/resolv.conf.new; done
      mv /run/resolv.conf.new /run/resolv.conf
    fi
    ;;
esac
exit 0
"#
}

/// `os-release` (in the root, and the UKI's `.osrel`).
pub fn os_release(board: &Board, runtime_version: &str) -> String {
    format!(
        "NAME=Edgeplane\nID=edgeplane\nPRETTY_NAME=\"Edgeplane {runtime_version} ({board})\"\n\
         VERSION_ID={runtime_version}\nIMAGE_ID={board}\nIMAGE_VERSION={runtime_version}\n",
        board = board.name
    )
}

/// The Pi firmware's `config.txt`.
pub fn config_txt(board: &Board, kernel: &str, initrd: &str) -> Option<String> {
    let Boot::Raspberrypi {
        device_tree,
        config_txt,
        ..
    } = &board.boot
    else {
        return None;
    };
    let dtb = device_tree.rsplit('/').next().unwrap_or(device_tree);
    let mut text = format!(
        "# Raspberry Pi firmware configuration, written by edge-image for {}.\n\
         kernel={kernel}\ninitramfs {initrd} followkernel\ndevice_tree={dtb}\n",
        board.name
    );
    for line in config_txt {
        text.push_str(line);
        text.push('\n');
    }
    Some(text)
}

/// `edge.yaml` on EDGE-BOOT: what an operator edits per device on a laptop.
/// The site's role is written out; the other device keys are commented
/// examples. Never holds a secret.
pub fn edge_yaml_template(board: &Board, site_role: Option<&str>) -> String {
    let role = match site_role {
        Some(r) => format!("role: {r}\n"),
        None => "# role: server            # or agent\n".to_owned(),
    };
    format!(
        r#"# edge.yaml: this device's own settings, read by `edged init` at every boot.
# Written by edge-image for board {board}. Keys here override the site
# config baked into the image; `edge.*` kernel arguments override both.
# Check an edited file on a laptop: edgectl config validate --site site.yaml edge.yaml
# After a bad edit the device starts in maintenance mode and writes the
# error to status/last-error.txt on this partition.
{role}
# hostname: shop-12-a
# network:                   # without it, every interface uses DHCP
#   eth0:
#     address: 192.168.10.21/24
#     gateway: 192.168.10.1
#     dns: [192.168.10.1]
# vip:
#   priority: 150            # the highest healthy server holds the address
# node-label:
#   - site=shop-12
"#,
        board = board.name
    )
}

/// A 16-byte identifier derived from the build's inputs and a purpose, so
/// GUIDs and volume ids are stable across identical builds.
pub fn derive_id(inputs_digest: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(inputs_digest);
    h.update(purpose.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn board(name: &str) -> Board {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs");
        crate::board::find(name, &dir).expect("board")
    }

    #[test]
    fn the_last_console_is_the_serial_one_edged_logs_to() {
        let b = board("x86_64-generic");
        let c = cmdline(&b, &["edge.role=server".into()]);
        assert_eq!(
            c,
            "console=tty0 console=ttyS0,115200 ro rootwait panic=30 edge.role=server"
        );
    }

    #[test]
    fn init_hands_pid_1_to_edged_init_on_the_read_only_root() {
        let s = init_script();
        assert!(s.starts_with("#!/bin/busybox sh\n"));
        assert!(s.contains("PARTNAME=EDGE-ROOT-A"));
        assert!(s.contains("mount -t erofs -o ro"));
        assert!(s.ends_with("exec switch_root /newroot /usr/bin/edged init\n"));
    }

    #[test]
    fn config_txt_only_for_the_pi() {
        assert_eq!(config_txt(&board("x86_64-generic"), "k", "i"), None);
        let t = config_txt(&board("raspberrypi-4"), "vmlinuz", "initrd.img").expect("pi");
        assert!(t.contains("kernel=vmlinuz\ninitramfs initrd.img followkernel\ndevice_tree=bcm2711-rpi-4-b.dtb\narm_64bit=1\n"), "{t}");
    }

    #[test]
    fn the_template_applies_the_sites_role() {
        let b = board("x86_64-generic");
        assert!(edge_yaml_template(&b, Some("server")).contains("\nrole: server\n"));
        assert!(edge_yaml_template(&b, None).contains("\n# role: server"));
    }
}
