//! Interop with keepalived 2.2.7 (Debian 12) as a peer in a namespace, and
//! tshark's view of our adverts. Root runs them (missing keepalived or tshark
//! fails); without root each test prints SKIPPED.

use edge_testkit::netns as lab;

use std::time::Duration;

use lab::{Lab, Proc, prerequisites, tshark_vrrp};

const BIN: &str = env!("CARGO_BIN_EXE_vrrp-node");

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn ours(lab: &Lab, priority: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["--priority", priority, "--advert-interval", "100ms"];
    args.extend_from_slice(extra);
    lab.spawn_node(BIN, 0, &args)
}

fn ka_instance(priority: u8, extra: &str) -> String {
    format!("  state BACKUP\n  priority {priority}\n  advert_int 0.1\n{extra}")
}

#[test]
fn keepalived_peer_higher_priority_wins_both_ways_and_tshark_sees_good_checksums() {
    if !prerequisites("ka", &["ip", "keepalived", "tshark"]) {
        return;
    }
    let lab = Lab::new("ka", 2);
    let mut capture = lab.capture();

    // 1. We (110) hold the VIP; keepalived (100) joins and stays backup, so it
    //    accepts our adverts and their checksum.
    let mut node = ours(&lab, "110", &[]);
    lab.wait_holders(&[0, 1], &[0], secs(3.0), &[&node]);
    let mut ka = lab.spawn_keepalived(1, &ka_instance(100, ""));
    lab.assert_stable(&[0, 1], &[0], secs(1.5), &[&node, &ka.parent]);

    // 2. We resign (priority 0): keepalived takes over at once.
    node.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(node.wait_exit(secs(3.0)), Some(0));
    let took = lab.wait_holders(&[0, 1], &[1], secs(2.0), &[&node, &ka.parent]);
    eprintln!("keepalived took over {took:?} after our priority-0 advert");

    // 3. We come back at 110: keepalived yields to the higher priority.
    let node = ours(&lab, "110", &[]);
    lab.wait_holders(&[0, 1], &[0], secs(3.0), &[&node, &ka.parent]);
    lab.assert_stable(&[0, 1], &[0], secs(0.5), &[&node, &ka.parent]);
    drop(node); // SIGKILL: the stale VIP stays; the next start removes it

    // 4. At 90 we accept keepalived (100) as master and stay backup.
    let node = ours(&lab, "90", &[]);
    lab.wait_holders(&[0, 1], &[1], secs(3.0), &[&node, &ka.parent]);
    lab.assert_stable(&[0, 1], &[1], secs(1.5), &[&node, &ka.parent]);

    // 5. keepalived stops gracefully: we take over.
    ka.terminate();
    lab.wait_holders(&[0, 1], &[0], secs(2.0), &[&node, &ka.parent]);
    ka.crash();

    let file = capture.stop().to_owned();
    let ours_ip = lab.nodes[0].ip.to_string();
    let ka_ip = lab.nodes[1].ip.to_string();
    // With `v3_checksum_as_in_v2` FALSE (Wireshark's default) the VRRPv3
    // checksum includes the IPv4 pseudo-header: both senders verify ("1" = good).
    let rows = tshark_vrrp(&file, false);
    let from = |ip: &str| rows.iter().filter(|r| r.0 == ip).collect::<Vec<_>>();
    assert!(
        from(&ours_ip).len() > 10,
        "too few adverts of ours captured: {rows:?}"
    );
    assert!(!from(&ka_ip).is_empty(), "no keepalived adverts captured");
    for r in from(&ours_ip).iter().chain(from(&ka_ip).iter()) {
        assert_eq!(r.2, "1", "checksum not good with the pseudo-header: {r:?}");
    }
    assert!(
        from(&ours_ip).iter().any(|r| r.1 == "0"),
        "our priority-0 resignation was not captured"
    );
    // TRUE verifies the RFC 9568 message-only form instead: ours then fail
    // ("0" = bad), which proves the preference flips what is checked.
    let rows = tshark_vrrp(&file, true);
    assert!(
        rows.iter().filter(|r| r.0 == ours_ip).all(|r| r.2 == "0"),
        "with v3_checksum_as_in_v2 TRUE our pseudo-header checksums should be bad: {rows:?}"
    );
}

#[test]
fn keepalived_unicast_peer_interop_without_multicast() {
    if !prerequisites("kaucast", &["ip", "bridge", "keepalived"]) {
        return;
    }
    let lab = Lab::new("kaucast", 2);
    lab.block_multicast();
    let (ip0, ip1) = (lab.nodes[0].ip.to_string(), lab.nodes[1].ip.to_string());
    let node = ours(&lab, "110", &["--unicast-peer", &ip1]);
    lab.wait_holders(&[0, 1], &[0], secs(3.0), &[&node]);
    let mut ka = lab.spawn_keepalived(
        1,
        &ka_instance(
            100,
            &format!("  unicast_src_ip {ip1}\n  unicast_peer {{\n    {ip0}\n  }}\n"),
        ),
    );
    lab.assert_stable(&[0, 1], &[0], secs(1.5), &[&node, &ka.parent]);
    node.signal(nix::sys::signal::Signal::SIGTERM);
    lab.wait_holders(&[0, 1], &[1], secs(2.0), &[&node, &ka.parent]);
    ka.crash();
}

#[test]
fn message_only_checksum_is_rejected_by_keepalived_2_2_7_but_we_accept_its_adverts() {
    if !prerequisites("kamsg", &["ip", "keepalived"]) {
        return;
    }
    // The checksum trap of reference/vrrp.md: keepalived < 2.2.8 only speaks
    // the pseudo-header form. We accept both forms, it does not.
    let lab = Lab::new("kamsg", 2);
    let mut ka = lab.spawn_keepalived(1, &ka_instance(100, ""));
    lab.wait_holders(&[0, 1], &[1], secs(3.0), &[&ka.parent]);
    // At 90 with message-only we still hear keepalived: one holder.
    let node = ours(&lab, "90", &["--checksum", "message-only"]);
    lab.assert_stable(&[0, 1], &[1], secs(1.5), &[&node, &ka.parent]);
    drop(node);
    // At 110 keepalived cannot verify us and keeps the VIP too: split brain.
    let node = ours(&lab, "110", &["--checksum", "message-only"]);
    lab.wait_holders(&[0, 1], &[0, 1], secs(3.0), &[&node, &ka.parent]);
    lab.assert_stable(&[0, 1], &[0, 1], secs(1.0), &[&node, &ka.parent]);
    ka.crash();
}
