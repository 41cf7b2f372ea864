//! Feeds arbitrary bytes to every decoding entry point: none may panic, and
//! whatever decodes must re-encode to the same advertisement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp::packet::{self, Advertisement, ChecksumMode};
use vrrp::receive::{self, Filter};

fuzz_target!(|data: &[u8]| {
    let _ = receive::classify(data, &Filter::any());
    let _ = packet::checksum_form(data, [10, 0, 0, 1].into(), packet::MULTICAST_GROUP);
    if let Ok(ip) = packet::parse_ipv4(data) {
        if let Ok(a) = Advertisement::decode(ip.payload) {
            let again = a.encode(ChecksumMode::PseudoHeader, ip.src, ip.dst);
            assert_eq!(Advertisement::decode(&again).ok(), Some(a));
        }
    }
    if let Ok(a) = Advertisement::decode(data) {
        let again = a.encode(ChecksumMode::MessageOnly, ip_or_zero(), ip_or_zero());
        assert_eq!(Advertisement::decode(&again).ok(), Some(a));
    }
});

fn ip_or_zero() -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::UNSPECIFIED
}
