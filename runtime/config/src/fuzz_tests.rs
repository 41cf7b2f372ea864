//! A bounded, deterministic fuzz run of the configuration parser that plain
//! `cargo test` executes (no nightly): a few thousand mutated and generated
//! documents and kernel command lines through [`load`]. The cargo-fuzz target
//! `runtime/fuzz/fuzz_targets/config_parse.rs` checks the same properties
//! without bounds.
//!
//! Properties: no panic; every error is located (file, and a line for
//! anything found in a file); an invalid configuration yields no config; the
//! seeded secrets never appear in a diagnostic; a valid configuration renders
//! to YAML that validates again; the token scrub never panics and, when it
//! edits, leaves a file without the token.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fuzzing::{check, exercise};
use crate::tree::Layer;
use crate::validate::{Input, load};

const SECRET: &str = "SECRETVALUE-0123456789";
const PASSWORD: &str = "PASSWORDVALUE";
/// The site layer's own secrets, distinct from the device layer's so that an
/// error quoting the device document never looks like a site-layer leak.
const SITE_SECRET: &str = "SITESECRET-9876543210";
const SITE_PASSWORD: &str = "SITEPASSWORDVALUE";

fn seeds() -> Vec<String> {
    vec![
        format!(
            "role: server\ntoken: {SECRET}\ndatastore-endpoint: postgres://edge:{PASSWORD}@10.0.0.5:5432/edge\n\
             vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n  priority: 110\n\
             tls-san: [10.0.0.100, edge.example.com]\ncluster-cidr: 10.42.0.0/16\n\
             node-taint: [\"CriticalAddonsOnly=true:NoExecute\"]\nhostname: edge-a\n\
             network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.0.1\n    dns: [10.0.0.1]\n"
        ),
        format!(
            "role: agent\ntoken: {SECRET}\nserver: https://10.0.0.100:6443\nnode-label: [a=b]\n"
        ),
        format!(
            "{{role: server, token: \"{SECRET}\", cluster-size: 1, vip: {{address: 10.0.0.100, interface: eth0, vrrp-id: 7}}}}\n"
        ),
        "base: &b {dhcp: true}\nnetwork:\n  eth0: *b\n  eth1:\n    <<: *b\n".into(),
        format!("token: |\n  {SECRET}\nhostname: >-\n  edge-b\n"),
        "\u{feff}role: server\r\nnetwork:\r\n  eth0: {dhcp: true}\r\n".into(),
        "vip: ~\nnetwork:\ntls-san:\n  - a.example\n  - 10.0.0.9\ndisable: traefik\n".into(),
        format!(
            "token-sha256: {}\nsecrets-encryption: yes\nhttps-listen-port: 0x1F\n",
            "ab".repeat(32)
        ),
    ]
}

const KEYS: &[&str] = &[
    "role",
    "token",
    "token-file",
    "token-sha256",
    "server",
    "datastore-endpoint",
    "datastore-cafile",
    "cluster-size",
    "vip",
    "tls-san",
    "bind-address",
    "https-listen-port",
    "node-name",
    "node-ip",
    "node-label",
    "node-taint",
    "cluster-cidr",
    "service-cidr",
    "cluster-dns",
    "cluster-domain",
    "disable",
    "secrets-encryption",
    "hostname",
    "network",
    "address",
    "interface",
    "vrrp-id",
    "priority",
    "advert-interval",
    "unicast-peers",
    "checksum",
    "dhcp",
    "gateway",
    "dns",
    "eth0",
    "data-dir",
    "clustr-cidr",
    "<<",
    "?",
];

const VALUES: &[&str] = &[
    "",
    "~",
    "null",
    "true",
    "no",
    "0",
    "-1",
    "0600",
    "1e400",
    "NaN",
    ".inf",
    "51",
    "300",
    "10.0.0.100",
    "10.0.0.0/24",
    "10.0.0.11/24",
    "::1",
    "https://10.0.0.100:6443",
    "http://x",
    "postgres://u:p@h:5432/db",
    "sqlite:///x.db",
    "[a, b]",
    "[]",
    "{}",
    "{x: 1}",
    "&a x",
    "*a",
    "*nope",
    "!!binary aGk=",
    "!custom x",
    "\"quoted\\u00e9\"",
    "'single'",
    "|\n  block",
    "a=b:NoSchedule",
    "1s",
    "10ms",
    "eth0",
    "edge_a",
    "EDGE",
    "\u{1F600}",
    "\t",
    "- item",
    "key: value",
];

const NOISE: &[u8] = b":-[]{},#&*!|>'\"\n\t %@`?~=./\\\r0aZ\xc3\xa9\xff";

fn mutate(rng: &mut StdRng, doc: &str) -> Vec<u8> {
    let mut b = doc.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = b.len().max(1);
        match rng.random_range(0..9) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = NOISE[rng.random_range(0..NOISE.len())];
            }
            1 => {
                let i = rng.random_range(0..=b.len());
                b.insert(i, NOISE[rng.random_range(0..NOISE.len())]);
            }
            2 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                let j = (i + rng.random_range(1..=16)).min(b.len());
                b.drain(i..j);
            }
            3 => b.truncate(rng.random_range(0..len)),
            4 => {
                // A known key with any value, at a line start, maybe indented.
                let indent = " ".repeat(rng.random_range(0..3) * 2);
                let line = format!(
                    "\n{indent}{}: {}\n",
                    KEYS[rng.random_range(0..KEYS.len())],
                    VALUES[rng.random_range(0..VALUES.len())]
                );
                let at = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'\n')
                    .map(|(i, _)| i)
                    .nth(rng.random_range(0..8))
                    .unwrap_or(b.len());
                b.splice(at..at, line.bytes());
            }
            5 => {
                // Duplicate or drop a line.
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let i = rng.random_range(0..lines.len());
                if rng.random_bool(0.5) {
                    let l = lines[i];
                    lines.insert(i, l);
                } else {
                    lines.remove(i);
                }
                b = lines.join("\n").into_bytes();
            }
            6 => {
                let depth = rng.random_range(1..400);
                let nest = format!("\nx: {}{}\n", "[".repeat(depth), "]".repeat(depth));
                b.extend_from_slice(nest.as_bytes());
            }
            7 => {
                let n = rng.random_range(1..20_000);
                b.extend_from_slice(format!("\nhostname: {}\n", "a".repeat(n)).as_bytes());
            }
            _ => {
                let i = rng.random_range(0..=b.len());
                b.splice(i..i, VALUES[rng.random_range(0..VALUES.len())].bytes());
            }
        }
    }
    b
}

/// A random document from the keys and values above.
fn generate(rng: &mut StdRng, depth: usize) -> String {
    let mut s = String::new();
    let indent = "  ".repeat(depth);
    for _ in 0..rng.random_range(0..6) {
        let key = KEYS[rng.random_range(0..KEYS.len())];
        if depth < 3 && rng.random_bool(0.3) {
            s.push_str(&format!("{indent}{key}:\n{}", generate(rng, depth + 1)));
        } else if rng.random_bool(0.2) {
            s.push_str(&format!("{indent}{key}:\n"));
            for _ in 0..rng.random_range(0..4) {
                s.push_str(&format!(
                    "{indent}  - {}\n",
                    VALUES[rng.random_range(0..VALUES.len())]
                ));
            }
        } else {
            s.push_str(&format!(
                "{indent}{key}: {}\n",
                VALUES[rng.random_range(0..VALUES.len())]
            ));
        }
    }
    s
}

fn cmdline(rng: &mut StdRng) -> String {
    (0..rng.random_range(0..6))
        .map(|_| {
            let mut k = vec![KEYS[rng.random_range(0..KEYS.len())]];
            if rng.random_bool(0.4) {
                k.push(KEYS[rng.random_range(0..KEYS.len())]);
            }
            let v = VALUES[rng.random_range(0..VALUES.len())].replace(['\n', ' '], "");
            match rng.random_range(0..5) {
                0 => format!("edge.{}", k.join(".")),
                1 => format!("edge..{v}"),
                2 => format!("\"edge.{}={v}\"", k.join(".")),
                3 => "quiet".into(),
                _ => format!("edge.{}={v}", k.join(".")),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn thousands_of_mutated_and_generated_configs_never_panic() {
    let started = std::time::Instant::now();
    let seeds = seeds();
    let site = seeds[0]
        .replace(SECRET, SITE_SECRET)
        .replace(PASSWORD, SITE_PASSWORD);
    let mut rng = StdRng::seed_from_u64(0x0ED6_E1A7);
    let mut valid = 0usize;
    let mut runs = 0usize;
    for round in 0..3000 {
        let doc: Vec<u8> = match round % 3 {
            0 | 1 => {
                let seed = rng.random_range(0..seeds.len());
                mutate(&mut rng, &seeds[seed])
            }
            _ => generate(&mut rng, 0).into_bytes(),
        };
        let secrets = {
            let t = String::from_utf8_lossy(&doc);
            t.contains(&format!("token: {SECRET}")) || t.contains(PASSWORD)
        };
        let line = cmdline(&mut rng);
        let result = std::panic::catch_unwind(|| {
            let loaded = exercise(&doc);
            if secrets {
                check(&doc, &loaded, &[SECRET, PASSWORD]);
            }
            let layered = load(&[
                Input::yaml("site.yaml", Layer::Site, site.clone()),
                Input::yaml("edge.yaml", Layer::Device, doc.clone()),
                Input::cmdline(line.clone()),
            ]);
            let mut layered_secrets = vec![SITE_SECRET, SITE_PASSWORD];
            if secrets {
                layered_secrets.extend([SECRET, PASSWORD]);
            }
            check(&doc, &layered, &layered_secrets);
            loaded.config.is_some()
        });
        match result {
            Ok(v) => valid += usize::from(v),
            Err(_) => panic!(
                "round {round}: panicked on\n{:?}\nwith cmdline {line:?}",
                String::from_utf8_lossy(&doc)
            ),
        }
        runs += 1;
    }
    // The run is meant to exercise both outcomes.
    assert!(valid > 50 && valid < runs, "{valid} valid of {runs}");
    eprintln!(
        "{runs} documents ({valid} valid) in {:?}",
        started.elapsed()
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [100, 1_000, 100_000] {
        let doc = format!("x: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let l = load(&[Input::yaml("edge.yaml", Layer::Device, doc)]);
        assert!(l.config.is_none());
        let doc: String = (0..depth.min(1_000))
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        let l = load(&[Input::yaml("edge.yaml", Layer::Device, doc)]);
        assert!(l.config.is_none());
    }
    let l = load(&[Input::yaml("edge.yaml", Layer::Device, vec![b'a'; 2 << 20])]);
    assert!(l.errors().any(|d| d.message.contains("at most")));
}
