//! The `decode` fuzz target's properties ([`exercise`]) on stable, bounded
//! and deterministic: the committed seed corpus (`fuzz/corpus/decode/`, also
//! cargo-fuzz's starting corpus), then every truncation and byte flip of
//! seeds built by this crate's encoder, then generated packets.
//!
//! A committed seed's name says what the receive checks must make of it:
//! `seed-accept-*` is accepted, `seed-message-*` is a bare VRRP message that
//! decodes, `seed-drop-*` is dropped. Other files (what a `cargo fuzz run`
//! adds) need only not panic. `EDGE_FUZZ_WRITE_SEEDS=1 cargo test -p vrrp
//! fuzzing` rewrites the seeds from [`seeds`].

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::exercise;
use crate::packet::{self, Advertisement, ChecksumMode, MULTICAST_GROUP};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode")
}

fn advert(vrid: u8, priority: u8, interval: u16, addresses: &[[u8; 4]]) -> Advertisement {
    Advertisement {
        vrid,
        priority,
        max_advert_interval: interval,
        addresses: addresses.iter().map(|&a| Ipv4Addr::from(a)).collect(),
    }
}

/// The seeds, by file name: packets as a raw socket delivers them, built
/// with [`Advertisement::encode_ipv4`], and their broken variants.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let peer = Ipv4Addr::new(10, 99, 0, 2);
    // The keepalived #1175 vector of `packet::tests`.
    let vector = advert(0x58, 0xc6, 100, &[[10, 195, 76, 227]]);
    let pseudo = vector.encode_ipv4(
        ChecksumMode::PseudoHeader,
        Ipv4Addr::new(10, 1, 0, 3),
        Ipv4Addr::new(10, 1, 0, 1),
    );
    let owner = advert(51, 255, 0x0fff, &[[10, 99, 0, 100], [10, 99, 0, 101]]);
    let message_only = owner.encode_ipv4(ChecksumMode::MessageOnly, peer, MULTICAST_GROUP);
    let resign = advert(7, 0, 1, &[[192, 168, 1, 1]]);
    let resigning = resign.encode_ipv4(ChecksumMode::PseudoHeader, peer, MULTICAST_GROUP);

    // IHL 6 (one word of options: NOP NOP NOP EOL) and Ethernet padding.
    let mut options = vec![0x46];
    options.extend_from_slice(&pseudo[1..20]);
    options[3] += 4;
    options.extend_from_slice(&[1, 1, 1, 0]);
    options.extend_from_slice(&pseudo[20..]);
    options.extend_from_slice(&[0; 14]);

    let with = |base: &[u8], offset: usize, value: u8| {
        let mut p = base.to_vec();
        p[offset] = value;
        p
    };
    vec![
        ("seed-accept-pseudo-header", pseudo.clone()),
        ("seed-accept-message-only", message_only.clone()),
        ("seed-accept-resign", resigning),
        ("seed-accept-ip-options", options),
        (
            "seed-message-bare",
            owner.encode(ChecksumMode::MessageOnly, peer, MULTICAST_GROUP),
        ),
        ("seed-drop-empty", Vec::new()),
        ("seed-drop-truncated-ip-header", pseudo[..10].to_vec()),
        (
            "seed-drop-truncated-message",
            pseudo[..pseudo.len() - 2].to_vec(),
        ),
        ("seed-drop-ttl-254", with(&pseudo, 8, 254)),
        ("seed-drop-fragment", with(&pseudo, 6, 0x20)),
        ("seed-drop-udp", with(&pseudo, 9, 17)),
        ("seed-drop-version-2", with(&pseudo, 20, 0x21)),
        ("seed-drop-no-address", with(&pseudo, 23, 0)),
        (
            "seed-drop-bad-checksum",
            with(&message_only, 27, message_only[27] ^ 1),
        ),
    ]
}

/// What a seed's name promises, checked on the result of [`exercise`].
fn check_promise(name: &str, data: &[u8]) {
    let outcome = exercise(data);
    if name.starts_with("seed-accept-") {
        assert!(outcome.is_ok(), "{name}: dropped: {outcome:?}");
    } else if name.starts_with("seed-message-") {
        assert!(Advertisement::decode(data).is_ok(), "{name}: no message");
    } else if name.starts_with("seed-drop-") {
        assert!(outcome.is_err(), "{name}: accepted: {outcome:?}");
    }
}

#[test]
fn fuzz_seeds_keep_their_promise() {
    for (name, data) in seeds() {
        check_promise(name, &data);
    }
}

#[test]
fn fuzz_corpus_runs_through_the_target() {
    let dir = corpus_dir();
    if std::env::var_os("EDGE_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        for (name, data) in seeds() {
            std::fs::write(dir.join(name), data).expect("write a seed");
        }
    }
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with EDGE_FUZZ_WRITE_SEEDS=1 cargo test -p vrrp fuzzing",
            dir.display()
        )
    });
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.expect("read the corpus directory").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_promise(name, &data);
        names.push(name.to_owned());
    }
    for class in ["seed-accept-", "seed-message-", "seed-drop-"] {
        assert!(
            names.iter().any(|n| n.starts_with(class)),
            "no {class}* file in {} (has {names:?}); restore it with \
             EDGE_FUZZ_WRITE_SEEDS=1 cargo test -p vrrp fuzzing",
            dir.display()
        );
    }
}

/// Every truncation of every seed, and every byte of every seed flipped
/// under four masks: no panic, and what decodes round-trips.
#[test]
fn fuzz_seed_truncations_and_byte_flips() {
    for (_, seed) in seeds() {
        for len in 0..seed.len() {
            let _ = exercise(&seed[..len]);
        }
        for i in 0..seed.len() {
            for mask in [0x01u8, 0x0f, 0x80, 0xff] {
                let mut mutated = seed.clone();
                mutated[i] ^= mask;
                let _ = exercise(&mutated);
            }
        }
    }
}

/// Packets across the fields' ranges (address counts up to 255, intervals
/// to the 12-bit limit, both checksum forms) are accepted as sent.
#[test]
fn fuzz_generated_packets_are_accepted_as_sent() {
    let src = Ipv4Addr::new(172, 16, 0, 9);
    for count in [1usize, 2, 16, 255] {
        for interval in [1u16, 100, 0x0fff] {
            for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
                let addresses: Vec<[u8; 4]> = (0..count)
                    .map(|i| [10, 0, (i >> 8) as u8, i as u8])
                    .collect();
                let a = advert(count as u8, 100, interval, &addresses);
                let pkt = a.encode_ipv4(mode, src, MULTICAST_GROUP);
                let received = exercise(&pkt).expect("accepted");
                assert_eq!(received.advert, a);
                assert_eq!(received.source, src);
                let _ = exercise(&pkt[packet::IPV4_HEADER_LEN..]);
            }
        }
    }
}

/// Random bytes after a plausible VRRP IP header, from a fixed seed.
#[test]
fn fuzz_random_tails_never_panic() {
    let mut state = 0x5652_5250_u64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let header = &seeds()[0].1[..packet::IPV4_HEADER_LEN];
    for _ in 0..20_000 {
        let r = next();
        let len = (r % 64) as usize;
        let mut p = header.to_vec();
        // Total length somewhere around the real one, so the payload is used.
        p[3] = (packet::IPV4_HEADER_LEN + len) as u8;
        p.extend((0..len).map(|_| next() as u8));
        if r & 0x100 != 0 && len > 0 {
            // a VRRPv3 advertisement's first byte, to get past the version check
            p[packet::IPV4_HEADER_LEN] = 0x31;
        }
        let _ = exercise(&p);
    }
}
