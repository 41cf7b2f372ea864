//! The fuzzing harness's checks, shared by the cargo-fuzz target
//! (`vrrp/fuzz/fuzz_targets/decode.rs`) and the seed-corpus run in plain
//! `cargo test` (`fuzzing/tests.rs`). Not an API: it panics when a property
//! does not hold.
//!
//! Owns the properties of the receive path on arbitrary bytes: no decoding
//! entry point panics; whatever decodes re-encodes (in either checksum form)
//! to the same advertisement; an accepted packet carries the advertisement
//! and checksum form its payload decodes to. Must stay pure (no `linux`
//! feature): edge-config links this crate without it.

use std::net::Ipv4Addr;

use crate::packet::{self, Advertisement, ChecksumMode};
use crate::receive::{self, Dropped, Filter, Received};

/// Feeds `data` to every decoding entry point, as a raw-socket packet (IPv4
/// header included) and as a bare VRRP message, checking the properties.
/// Returns what the receive checks made of it.
pub fn exercise(data: &[u8]) -> Result<Received, Dropped> {
    let classified = receive::classify(data, &Filter::any());
    let _ = packet::checksum_form(data, Ipv4Addr::new(10, 0, 0, 1), packet::MULTICAST_GROUP);
    let in_packet = packet::parse_ipv4(data)
        .ok()
        .and_then(|ip| Some((Advertisement::decode(ip.payload).ok()?, ip)));
    if let Some((a, ip)) = &in_packet {
        let again = a.encode(ChecksumMode::PseudoHeader, ip.src, ip.dst);
        assert_eq!(
            Advertisement::decode(&again).as_ref().ok(),
            Some(a),
            "{data:02x?}"
        );
    }
    if let Ok(r) = &classified {
        let (a, ip) = in_packet.as_ref().expect("an accepted packet decodes");
        assert_eq!(&r.advert, a, "{data:02x?}");
        let form = packet::checksum_form(ip.payload, ip.src, ip.dst);
        assert_eq!(Some(r.checksum), form, "{data:02x?}");
    }
    if let Ok(a) = Advertisement::decode(data) {
        let zero = Ipv4Addr::UNSPECIFIED;
        let again = a.encode(ChecksumMode::MessageOnly, zero, zero);
        assert_eq!(Advertisement::decode(&again).ok(), Some(a), "{data:02x?}");
    }
    classified
}

#[cfg(test)]
mod tests;
