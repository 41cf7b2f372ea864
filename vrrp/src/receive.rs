//! Receive-side checks of RFC 9568 §7.1 applied to a raw IPv4 packet: what is
//! accepted as an advertisement for this virtual router and why anything else
//! is dropped.
//!
//! Owns: the order and meaning of the checks and the [`DropReason`]s. Must not:
//! do IO, count (the driver counts), or panic on any input.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::packet::{self, Advertisement, ChecksumMode, DecodeError};

/// Why a received packet was not used. One counter per reason in
/// [`crate::stats::DropCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Not a complete IPv4/VRRP packet (lengths, fragments, zero interval, no address).
    Malformed,
    /// A VRRP version other than 3 (e.g. a VRRPv2 speaker) or an unknown type.
    Version,
    /// TTL other than 255: it crossed a router, or was forged off-link.
    Ttl,
    /// Verifies in neither checksum form.
    Checksum,
    /// Well-formed, but for another virtual router on the same link.
    ForeignVrid,
    /// Sent by this node (multicast loop or a mirror).
    OwnPacket,
    /// Unicast mode: the source is not a configured peer.
    UnknownPeer,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Version => "version",
            Self::Ttl => "ttl",
            Self::Checksum => "checksum",
            Self::ForeignVrid => "foreign-vrid",
            Self::OwnPacket => "own-packet",
            Self::UnknownPeer => "unknown-peer",
        }
    }
}

/// A dropped packet: the counted reason and, for decode failures, the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub reason: DropReason,
    pub detail: Option<DecodeError>,
}

impl From<DropReason> for Dropped {
    fn from(reason: DropReason) -> Self {
        Self {
            reason,
            detail: None,
        }
    }
}

/// What this node accepts.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Our VRID; `None` accepts any (used by fuzzing and diagnostics).
    pub vrid: Option<u8>,
    /// Our own addresses: packets from them are ours.
    pub own: Vec<Ipv4Addr>,
    /// Unicast mode: accept only these sources. Empty = any source.
    pub peers: Vec<Ipv4Addr>,
    /// Our virtual address, to flag advertisements that list other addresses.
    pub vip: Option<Ipv4Addr>,
}

impl Filter {
    /// Accepts any VRID from anyone (still checks TTL and checksum).
    pub fn any() -> Self {
        Self::default()
    }
}

/// An advertisement that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub source: Ipv4Addr,
    pub advert: Advertisement,
    /// The checksum form the sender used.
    pub checksum: ChecksumMode,
    /// False when the address list does not contain our VIP (RFC 9568 §7.1:
    /// optional check; we log it and still accept, as keepalived does).
    pub addresses_match: bool,
}

/// Applies the receive checks to a packet as the raw socket delivered it
/// (IPv4 header included).
pub fn classify(raw: &[u8], filter: &Filter) -> Result<Received, Dropped> {
    let malformed = |e: DecodeError| Dropped {
        reason: DropReason::Malformed,
        detail: Some(e),
    };
    let ip = packet::parse_ipv4(raw).map_err(malformed)?;
    if ip.protocol != packet::IP_PROTOCOL {
        return Err(malformed(DecodeError::NotVrrp(ip.protocol)));
    }
    if filter.own.contains(&ip.src) {
        return Err(DropReason::OwnPacket.into());
    }
    if ip.ttl != packet::TTL {
        return Err(DropReason::Ttl.into());
    }
    let advert = Advertisement::decode(ip.payload).map_err(|e| match e {
        DecodeError::Version(_) | DecodeError::Type(_) => Dropped {
            reason: DropReason::Version,
            detail: Some(e),
        },
        other => malformed(other),
    })?;
    if filter.vrid.is_some_and(|v| v != advert.vrid) {
        return Err(DropReason::ForeignVrid.into());
    }
    if !filter.peers.is_empty() && !filter.peers.contains(&ip.src) {
        return Err(DropReason::UnknownPeer.into());
    }
    let checksum = packet::checksum_form(ip.payload, ip.src, ip.dst).ok_or(DropReason::Checksum)?;
    let addresses_match = filter.vip.is_none_or(|v| advert.addresses.contains(&v));
    Ok(Received {
        source: ip.src,
        advert,
        checksum,
        addresses_match,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);

    fn filter() -> Filter {
        Filter {
            vrid: Some(51),
            own: vec![ME],
            peers: vec![],
            vip: Some(VIP),
        }
    }

    fn advert(vrid: u8) -> Advertisement {
        Advertisement {
            vrid,
            priority: 100,
            max_advert_interval: 100,
            addresses: vec![VIP],
        }
    }

    fn packet_from(src: Ipv4Addr, a: &Advertisement, mode: ChecksumMode) -> Vec<u8> {
        a.encode_ipv4(mode, src, packet::MULTICAST_GROUP)
    }

    fn reason(r: Result<Received, Dropped>) -> DropReason {
        r.expect_err("should be dropped").reason
    }

    #[test]
    fn accepts_both_checksum_forms() {
        for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
            let r = classify(&packet_from(PEER, &advert(51), mode), &filter()).expect("accepted");
            assert_eq!(r.source, PEER);
            assert_eq!(r.checksum, mode);
            assert!(r.addresses_match);
        }
    }

    #[test]
    fn drops_each_reason() {
        let f = filter();
        let good = packet_from(PEER, &advert(51), ChecksumMode::PseudoHeader);

        assert_eq!(reason(classify(&good[..10], &f)), DropReason::Malformed);
        let mut p = good.clone();
        p[9] = 17;
        assert_eq!(reason(classify(&p, &f)), DropReason::Malformed);

        let mut p = good.clone();
        p[8] = 254;
        assert_eq!(reason(classify(&p, &f)), DropReason::Ttl);

        let mut p = good.clone();
        p[27] ^= 0x01; // checksum low byte
        assert_eq!(reason(classify(&p, &f)), DropReason::Checksum);

        let p = packet_from(PEER, &advert(52), ChecksumMode::PseudoHeader);
        assert_eq!(reason(classify(&p, &f)), DropReason::ForeignVrid);

        let p = packet_from(ME, &advert(51), ChecksumMode::PseudoHeader);
        assert_eq!(reason(classify(&p, &f)), DropReason::OwnPacket);

        let mut p = good.clone();
        p[20] = 0x21; // VRRPv2
        assert_eq!(reason(classify(&p, &f)), DropReason::Version);

        let unicast = Filter {
            peers: vec![Ipv4Addr::new(10, 99, 0, 3)],
            ..filter()
        };
        assert_eq!(reason(classify(&good, &unicast)), DropReason::UnknownPeer);
    }

    #[test]
    fn other_address_list_is_accepted_but_flagged() {
        let mut a = advert(51);
        a.addresses = vec![Ipv4Addr::new(192, 0, 2, 1)];
        let r = classify(
            &packet_from(PEER, &a, ChecksumMode::PseudoHeader),
            &filter(),
        )
        .expect("accepted");
        assert!(!r.addresses_match);
    }
}
