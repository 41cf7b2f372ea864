//! VRRPv3 wire format for IPv4 (RFC 5798 §5, RFC 9568 §5): the advertisement
//! codec, both checksum forms, the IPv4 header around it and the gratuitous ARP
//! frame sent on takeover.
//!
//! Owns: byte layouts and checksums. Must not: do IO, read clocks, or panic on
//! any input; every decoder returns a [`DecodeError`] for bytes it cannot use.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// IP protocol number of VRRP.
pub const IP_PROTOCOL: u8 = 112;
/// IPv4 multicast group of VRRP advertisements.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// TTL every advertisement is sent with and must arrive with.
pub const TTL: u8 = 255;
/// The version this codec speaks.
pub const VERSION: u8 = 3;
/// The only VRRPv3 message type.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Fixed part of the VRRP header, before the address list.
pub const HEADER_LEN: usize = 8;
/// Largest value of the 12-bit Max Adver Int field, in centiseconds.
pub const MAX_ADVERT_INTERVAL_CS: u16 = 0x0fff;
/// Length of the IPv4 header this crate sends (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// Internet Control (precedence 6), the TOS keepalived and routers use.
pub const TOS_INTERNET_CONTROL: u8 = 0xc0;
/// Length of a gratuitous ARP frame (Ethernet header + ARP body).
pub const GARP_FRAME_LEN: usize = 42;

/// Which bytes the VRRPv3 checksum covers for IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumMode {
    /// The IPv4 pseudo-header (source, destination, zero, protocol, length)
    /// followed by the message: what keepalived, FRR and Wireshark expect.
    #[default]
    PseudoHeader,
    /// The VRRP message alone, as RFC 9568 specifies for IPv4.
    MessageOnly,
}

impl ChecksumMode {
    /// The spelling used in flags and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PseudoHeader => "pseudo-header",
            Self::MessageOnly => "message-only",
        }
    }
}

impl std::fmt::Display for ChecksumMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChecksumMode {
    type Err = crate::config::ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pseudo-header" => Ok(Self::PseudoHeader),
            "message-only" => Ok(Self::MessageOnly),
            _ => Err(crate::config::ConfigError::invalid(
                "checksum",
                s,
                "expected `pseudo-header` (keepalived, the default) or `message-only` (RFC 9568)",
            )),
        }
    }
}

/// Why bytes could not be used as a VRRPv3 advertisement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated { needed: usize, got: usize },
    #[error("not an IPv4 packet (version {0})")]
    NotIpv4(u8),
    #[error("bad IPv4 header length {ihl} words for a {len}-byte packet")]
    BadIpv4HeaderLength { ihl: u8, len: usize },
    #[error("bad IPv4 total length {total} for a {len}-byte buffer")]
    BadIpv4TotalLength { total: usize, len: usize },
    #[error("IPv4 fragment")]
    Fragment,
    #[error("IP protocol {0}, not VRRP (112)")]
    NotVrrp(u8),
    #[error("VRRP version {0}, only 3 is spoken")]
    Version(u8),
    #[error("VRRP message type {0}, only 1 (advertisement) exists")]
    Type(u8),
    #[error("advertisement with no address")]
    NoAddress,
    #[error("message is {got} bytes but {count} addresses need {expected}")]
    Length {
        count: u8,
        expected: usize,
        got: usize,
    },
    #[error("advertisement interval of 0")]
    ZeroInterval,
}

/// A VRRPv3 IPv4 advertisement (RFC 9568 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub vrid: u8,
    /// 0 = the sender resigns, 255 = the sender owns the addresses.
    pub priority: u8,
    /// Max Adver Int in centiseconds (12 bits).
    pub max_advert_interval: u16,
    pub addresses: Vec<Ipv4Addr>,
}

impl Advertisement {
    /// Length of the encoded VRRP message.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + 4 * self.addresses.len().min(255)
    }

    /// Encodes the VRRP message with its checksum. `src` and `dst` are the IP
    /// addresses the packet will carry (used by [`ChecksumMode::PseudoHeader`]).
    /// At most 255 addresses are encoded and the interval is clamped to 12 bits.
    pub fn encode(&self, mode: ChecksumMode, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let count = self.addresses.len().min(255);
        let mut msg = Vec::with_capacity(HEADER_LEN + 4 * count);
        msg.push((VERSION << 4) | TYPE_ADVERTISEMENT);
        msg.push(self.vrid);
        msg.push(self.priority);
        msg.push(count as u8);
        msg.extend_from_slice(
            &self
                .max_advert_interval
                .min(MAX_ADVERT_INTERVAL_CS)
                .to_be_bytes(),
        );
        msg.extend_from_slice(&[0, 0]);
        for a in &self.addresses[..count] {
            msg.extend_from_slice(&a.octets());
        }
        let sum = checksum(mode, &msg, src, dst);
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
        msg
    }

    /// Encodes a whole IPv4 packet (header without options, TTL 255, TOS
    /// Internet Control) for a raw socket with `IP_HDRINCL`. The kernel fills
    /// in the identification and the header checksum.
    pub fn encode_ipv4(&self, mode: ChecksumMode, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let msg = self.encode(mode, src, dst);
        let total = (IPV4_HEADER_LEN + msg.len()) as u16;
        let mut pkt = Vec::with_capacity(usize::from(total));
        pkt.push(0x45);
        pkt.push(TOS_INTERNET_CONTROL);
        pkt.extend_from_slice(&total.to_be_bytes());
        pkt.extend_from_slice(&[0, 0, 0, 0]); // id (kernel), flags/fragment offset
        pkt.push(TTL);
        pkt.push(IP_PROTOCOL);
        pkt.extend_from_slice(&[0, 0]); // header checksum (kernel)
        pkt.extend_from_slice(&src.octets());
        pkt.extend_from_slice(&dst.octets());
        pkt.extend_from_slice(&msg);
        pkt
    }

    /// Decodes the structure of a VRRP message (no checksum check: see
    /// [`checksum_form`], which needs the IP addresses).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        if msg.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                got: msg.len(),
            });
        }
        let version = msg[0] >> 4;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = msg[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::Type(kind));
        }
        let count = msg[3];
        if count == 0 {
            return Err(DecodeError::NoAddress);
        }
        let expected = HEADER_LEN + 4 * usize::from(count);
        if msg.len() != expected {
            return Err(DecodeError::Length {
                count,
                expected,
                got: msg.len(),
            });
        }
        let max_advert_interval = u16::from_be_bytes([msg[4], msg[5]]) & MAX_ADVERT_INTERVAL_CS;
        if max_advert_interval == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        let addresses = msg[HEADER_LEN..]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect();
        Ok(Self {
            vrid: msg[1],
            priority: msg[2],
            max_advert_interval,
            addresses,
        })
    }
}

/// RFC 1071 ones'-complement sum of `data`, folded to 16 bits, not inverted.
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> u32 {
    let mut ph = [0u8; 12];
    ph[0..4].copy_from_slice(&src.octets());
    ph[4..8].copy_from_slice(&dst.octets());
    ph[9] = IP_PROTOCOL;
    // A VRRP message is at most 8 + 4 * 255 bytes, so the length fits.
    ph[10..12].copy_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    sum16(0, &ph)
}

/// The checksum of `msg` in the given form. The checksum field of `msg` must be
/// zero (or the result is the value that makes the whole sum verify).
pub fn checksum(mode: ChecksumMode, msg: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
    let start = match mode {
        ChecksumMode::PseudoHeader => pseudo_header_sum(src, dst, msg.len()),
        ChecksumMode::MessageOnly => 0,
    };
    !(sum16(start, msg) as u16)
}

/// Which checksum form `msg` (checksum field included) verifies under, if any.
/// The pseudo-header form is tried first.
pub fn checksum_form(msg: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Option<ChecksumMode> {
    let verifies = |start: u32| sum16(start, msg) == 0xffff;
    if verifies(pseudo_header_sum(src, dst, msg.len())) {
        Some(ChecksumMode::PseudoHeader)
    } else if verifies(0) {
        Some(ChecksumMode::MessageOnly)
    } else {
        None
    }
}

/// The fields of an IPv4 packet this crate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub protocol: u8,
    /// Bytes after the header (options skipped using the IHL), up to the total length.
    pub payload: &'a [u8],
}

/// Parses an IPv4 packet as a raw socket delivers it. Reads the IHL rather
/// than assuming 20 bytes; rejects fragments and inconsistent lengths.
pub fn parse_ipv4(buf: &[u8]) -> Result<Ipv4Packet<'_>, DecodeError> {
    if buf.len() < IPV4_HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: IPV4_HEADER_LEN,
            got: buf.len(),
        });
    }
    let version = buf[0] >> 4;
    if version != 4 {
        return Err(DecodeError::NotIpv4(version));
    }
    let ihl = buf[0] & 0x0f;
    let header_len = usize::from(ihl) * 4;
    if ihl < 5 || header_len > buf.len() {
        return Err(DecodeError::BadIpv4HeaderLength {
            ihl,
            len: buf.len(),
        });
    }
    let total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if total < header_len || total > buf.len() {
        return Err(DecodeError::BadIpv4TotalLength {
            total,
            len: buf.len(),
        });
    }
    let frag = u16::from_be_bytes([buf[6], buf[7]]);
    if frag & 0x3fff != 0 {
        // More-fragments set or a non-zero offset.
        return Err(DecodeError::Fragment);
    }
    Ok(Ipv4Packet {
        src: Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]),
        dst: Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]),
        ttl: buf[8],
        protocol: buf[9],
        payload: &buf[header_len..total],
    })
}

/// A gratuitous ARP request for `ip` from `mac`, broadcast: Ethernet header
/// followed by an ARP body whose sender and target protocol addresses are both
/// `ip` (RFC 5227 §3 "ARP Announcement").
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut f = [0u8; GARP_FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // EtherType ARP
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    // target hardware address stays zero
    f[38..42].copy_from_slice(&ip.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    // reference/vrrp.md: keepalived #1175, recomputed.
    const VECTOR_IP: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x00, 0x00, 0x0a, 0x01, 0x00,
        0x03, 0x0a, 0x01, 0x00, 0x01,
    ];
    const VECTOR_VRRP: [u8; 12] = [
        0x31, 0x58, 0xc6, 0x01, 0x00, 0x64, 0x9c, 0x19, 0x0a, 0xc3, 0x4c, 0xe3,
    ];
    const SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 3);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);

    fn vector_advert() -> Advertisement {
        Advertisement {
            vrid: 0x58,
            priority: 0xc6,
            max_advert_interval: 100,
            addresses: vec![Ipv4Addr::new(10, 195, 76, 227)],
        }
    }

    fn vector_packet() -> Vec<u8> {
        [&VECTOR_IP[..], &VECTOR_VRRP[..]].concat()
    }

    #[test]
    fn test_vector_checksums_in_both_forms() {
        let a = vector_advert();
        let ph = a.encode(ChecksumMode::PseudoHeader, SRC, DST);
        assert_eq!(ph, VECTOR_VRRP);
        assert_eq!(u16::from_be_bytes([ph[6], ph[7]]), 0x9c19);
        let mo = a.encode(ChecksumMode::MessageOnly, SRC, DST);
        assert_eq!(u16::from_be_bytes([mo[6], mo[7]]), 0xb09b);
        assert_eq!(&mo[..6], &ph[..6]);
        assert_eq!(&mo[8..], &ph[8..]);
    }

    #[test]
    fn test_vector_decodes_and_verifies_with_pseudo_header() {
        let pkt = vector_packet();
        let ip = parse_ipv4(&pkt).expect("vector parses");
        assert_eq!((ip.src, ip.dst, ip.ttl, ip.protocol), (SRC, DST, 255, 112));
        assert_eq!(Advertisement::decode(ip.payload), Ok(vector_advert()));
        assert_eq!(
            checksum_form(ip.payload, ip.src, ip.dst),
            Some(ChecksumMode::PseudoHeader)
        );
        // The same message under swapped addresses no longer verifies in the
        // pseudo-header form, and it never verified message-only.
        assert_eq!(
            checksum_form(ip.payload, SRC, Ipv4Addr::new(10, 1, 0, 4)),
            None
        );
    }

    #[test]
    fn message_only_form_is_recognised() {
        let a = vector_advert();
        let mo = a.encode(ChecksumMode::MessageOnly, SRC, DST);
        assert_eq!(
            checksum_form(&mo, SRC, DST),
            Some(ChecksumMode::MessageOnly)
        );
        // message-only does not depend on the addresses
        assert_eq!(
            checksum_form(&mo, Ipv4Addr::LOCALHOST, Ipv4Addr::BROADCAST),
            Some(ChecksumMode::MessageOnly)
        );
    }

    #[test]
    fn encode_ipv4_matches_vector_header_fields() {
        let pkt = vector_advert().encode_ipv4(ChecksumMode::PseudoHeader, SRC, DST);
        assert_eq!(pkt.len(), 32);
        // Same header as the capture except id and header checksum (kernel's).
        assert_eq!(&pkt[..4], &VECTOR_IP[..4]);
        assert_eq!(&pkt[8..10], &VECTOR_IP[8..10]);
        assert_eq!(&pkt[12..20], &VECTOR_IP[12..20]);
        assert_eq!(&pkt[20..], &VECTOR_VRRP);
    }

    #[test]
    fn ihl_with_options_is_honoured() {
        let mut pkt = vec![0x46]; // IHL 6: one 4-byte option word
        pkt.extend_from_slice(&VECTOR_IP[1..]);
        pkt[3] = 36; // total length
        pkt.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
        pkt.extend_from_slice(&VECTOR_VRRP);
        let ip = parse_ipv4(&pkt).expect("parses");
        assert_eq!(ip.payload, &VECTOR_VRRP);
    }

    #[test]
    fn trailing_link_padding_beyond_total_length_is_ignored() {
        let mut pkt = vector_packet();
        pkt.extend_from_slice(&[0; 14]);
        let ip = parse_ipv4(&pkt).expect("parses");
        assert_eq!(ip.payload, &VECTOR_VRRP);
    }

    #[test]
    fn structural_errors() {
        let mut m = VECTOR_VRRP;
        m[0] = 0x21;
        assert_eq!(Advertisement::decode(&m), Err(DecodeError::Version(2)));
        m[0] = 0x32;
        assert_eq!(Advertisement::decode(&m), Err(DecodeError::Type(2)));
        let mut m = VECTOR_VRRP;
        m[3] = 0;
        assert_eq!(Advertisement::decode(&m), Err(DecodeError::NoAddress));
        m[3] = 2;
        assert!(matches!(
            Advertisement::decode(&m),
            Err(DecodeError::Length { .. })
        ));
        let mut m = VECTOR_VRRP;
        m[4] = 0xf0; // reserved bits only
        m[5] = 0;
        assert_eq!(Advertisement::decode(&m), Err(DecodeError::ZeroInterval));
        let mut p = vector_packet();
        p[6] = 0x20; // more fragments
        assert_eq!(parse_ipv4(&p), Err(DecodeError::Fragment));
        let mut p = vector_packet();
        p[0] = 0x44;
        assert!(matches!(
            parse_ipv4(&p),
            Err(DecodeError::BadIpv4HeaderLength { .. })
        ));
        let mut p = vector_packet();
        p[3] = 200;
        assert!(matches!(
            parse_ipv4(&p),
            Err(DecodeError::BadIpv4TotalLength { .. })
        ));
    }

    #[test]
    fn reserved_bits_are_ignored_on_receive() {
        let mut m = VECTOR_VRRP;
        m[4] |= 0xf0;
        let a = Advertisement::decode(&m).expect("decodes");
        assert_eq!(a.max_advert_interval, 100);
    }

    #[test]
    fn garp_frame_layout() {
        let mac = [0x02, 0, 0, 0, 0, 1];
        let ip = Ipv4Addr::new(10, 99, 0, 100);
        let f = gratuitous_arp(mac, ip);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1]);
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &ip.octets());
        assert_eq!(&f[32..38], &[0; 6]);
        assert_eq!(&f[38..42], &ip.octets());
    }

    #[test]
    fn odd_length_checksum_pads_with_zero() {
        assert_eq!(sum16(0, &[0x12]), 0x1200);
        assert_eq!(sum16(0, &[0xff, 0xff, 0x00, 0x01]), 0x0001);
    }

    /// Every truncation and every single-byte value at every offset of the
    /// test vector: decoding never panics, and what decodes re-encodes to
    /// the same structure.
    #[test]
    fn exhaustive_single_byte_mutations_never_panic() {
        let base = vector_packet();
        for len in 0..=base.len() {
            let _ = crate::receive::classify(&base[..len], &crate::receive::Filter::any());
            let _ = parse_ipv4(&base[..len]);
            let _ = Advertisement::decode(&base[20.min(len)..len]);
        }
        for off in 0..base.len() {
            for v in 0..=255u8 {
                let mut p = base.clone();
                p[off] = v;
                let _ = crate::receive::classify(&p, &crate::receive::Filter::any());
                if let Ok(ip) = parse_ipv4(&p)
                    && let Ok(a) = Advertisement::decode(ip.payload)
                {
                    let again = a.encode(ChecksumMode::PseudoHeader, ip.src, ip.dst);
                    assert_eq!(Advertisement::decode(&again), Ok(a));
                }
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn arb_advert() -> impl Strategy<Value = Advertisement> {
        (
            any::<u8>(),
            any::<u8>(),
            1..=MAX_ADVERT_INTERVAL_CS,
            proptest::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 1..20),
        )
            .prop_map(
                |(vrid, priority, max_advert_interval, addresses)| Advertisement {
                    vrid,
                    priority,
                    max_advert_interval,
                    addresses,
                },
            )
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = parse_ipv4(&bytes);
            let _ = Advertisement::decode(&bytes);
            let _ = checksum_form(&bytes, Ipv4Addr::LOCALHOST, MULTICAST_GROUP);
            let _ = crate::receive::classify(&bytes, &crate::receive::Filter::any());
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_ip_header_never_panic(
            ihl in 0u8..16, total in any::<u16>(), ttl in any::<u8>(),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut p = vec![0x40 | ihl, 0];
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0, ttl, IP_PROTOCOL, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18]);
            p.extend_from_slice(&tail);
            let _ = crate::receive::classify(&p, &crate::receive::Filter::any());
        }

        #[test]
        fn roundtrip_in_both_checksum_forms(a in arb_advert(), src in any::<u32>(), dst in any::<u32>(), pseudo in any::<bool>()) {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let mode = if pseudo { ChecksumMode::PseudoHeader } else { ChecksumMode::MessageOnly };
            let pkt = a.encode_ipv4(mode, src, dst);
            let ip = parse_ipv4(&pkt).expect("own packet parses");
            prop_assert_eq!(ip.ttl, TTL);
            prop_assert_eq!(Advertisement::decode(ip.payload).expect("decodes"), a.clone());
            let form = checksum_form(ip.payload, src, dst);
            prop_assert!(form.is_some());
            if !pseudo {
                // Message-only always verifies as such, unless the pseudo-header
                // sum happens to be zero (then both forms are the same bytes).
                prop_assert!(form == Some(ChecksumMode::MessageOnly)
                    || a.encode(ChecksumMode::PseudoHeader, src, dst) == a.encode(mode, src, dst));
            } else {
                prop_assert_eq!(form, Some(ChecksumMode::PseudoHeader));
            }
        }

        #[test]
        fn any_single_bit_flip_breaks_the_checksum(a in arb_advert(), bit in 0usize..64) {
            let src = Ipv4Addr::new(10, 0, 0, 1);
            let mut m = a.encode(ChecksumMode::PseudoHeader, src, MULTICAST_GROUP);
            let bit = bit % (m.len() * 8);
            m[bit / 8] ^= 1 << (bit % 8);
            prop_assert_ne!(checksum_form(&m, src, MULTICAST_GROUP), Some(ChecksumMode::PseudoHeader));
        }
    }
}
