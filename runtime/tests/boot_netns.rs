//! The real static-network path of `edged init` (rtnetlink), in a network
//! namespace this test creates and deletes: link up, address, default route,
//! loopback; idempotent on a second boot; a clear error for a missing
//! interface. Needs root (tier 4); without root it says SKIPPED.

use std::process::Command;

use edge_config::edge::{HostAddress, Leaf};
use edge_runtime::boot::layout::Layout;
use edge_runtime::boot::system::{Linux, Network};

/// A namespace deleted when dropped.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| edge_testkit::prerequisite_failed("ip (iproute2)", &e));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a thread that entered the namespace (threads it starts inherit it).
fn inside<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns file");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread")
    })
}

#[test]
fn static_addressing_through_netlink_in_a_namespace() {
    if !edge_testkit::require_root_or_skip("creates a network namespace") {
        return;
    }
    let ns = Netns(format!("edgeboot{}", std::process::id()));
    ip(&["netns", "add", &ns.0]);
    ip(&[
        "-n", &ns.0, "link", "add", "e0", "type", "veth", "peer", "name", "e1",
    ]);
    let sys = Linux {
        layout: Layout::device(),
    };
    let address = HostAddress::parse("10.77.0.11/24").expect("address");
    let gateway = "10.77.0.1".parse().ok();

    inside(&ns.0, || {
        sys.loopback_up().expect("lo up");
        sys.configure_static("e0", address, gateway)
            .expect("configured");
        // A second boot (or a restart of init) finds it done: no error.
        sys.configure_static("e0", address, gateway)
            .expect("idempotent");
        let e = sys
            .configure_static("nope0", address, None)
            .expect_err("missing interface");
        assert!(e.to_string().contains("nope0: no such interface"), "{e}");
        assert_eq!(sys.interfaces().expect("list"), ["e0", "e1"]);
    });

    let addr = ip(&["-n", &ns.0, "-4", "addr", "show", "dev", "e0"]);
    assert!(addr.contains("inet 10.77.0.11/24"), "{addr}");
    assert!(addr.contains(",UP"), "{addr}");
    let lo = ip(&["-n", &ns.0, "link", "show", "dev", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");
    let routes = ip(&["-n", &ns.0, "-4", "route", "show", "default"]);
    assert!(routes.contains("default via 10.77.0.1 dev e0"), "{routes}");
}
