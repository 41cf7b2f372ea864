//! Counters and the status snapshot of one instance, serialisable for
//! `edgectl status` and `-o json`.
//!
//! Owns: the shape of what is reported. Must not: decide anything; the driver
//! fills it in.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::health::HealthStatus;
use crate::machine::{MasterInfo, State};
use crate::packet::ChecksumMode;
use crate::receive::DropReason;

/// Received packets dropped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DropCounters {
    pub malformed: u64,
    pub version: u64,
    pub ttl: u64,
    pub checksum: u64,
    pub foreign_vrid: u64,
    pub own_packet: u64,
    pub unknown_peer: u64,
}

impl DropCounters {
    pub fn count(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Malformed => &mut self.malformed,
            DropReason::Version => &mut self.version,
            DropReason::Ttl => &mut self.ttl,
            DropReason::Checksum => &mut self.checksum,
            DropReason::ForeignVrid => &mut self.foreign_vrid,
            DropReason::OwnPacket => &mut self.own_packet,
            DropReason::UnknownPeer => &mut self.unknown_peer,
        };
        *c += 1;
    }

    pub fn total(&self) -> u64 {
        self.malformed
            + self.version
            + self.ttl
            + self.checksum
            + self.foreign_vrid
            + self.own_packet
            + self.unknown_peer
    }
}

/// Packet, ARP and address counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    /// Accepted adverts whose address list lacks our VIP (logged, accepted).
    pub address_list_mismatch: u64,
    /// Accepted adverts by checksum form.
    pub checksum_pseudo_header_received: u64,
    pub checksum_message_only_received: u64,
    pub garp_sent: u64,
    pub send_errors: u64,
    pub receive_errors: u64,
    pub vip_errors: u64,
    pub dropped: DropCounters,
}

impl Counters {
    pub fn count_checksum(&mut self, form: ChecksumMode) {
        match form {
            ChecksumMode::PseudoHeader => self.checksum_pseudo_header_received += 1,
            ChecksumMode::MessageOnly => self.checksum_message_only_received += 1,
        }
    }
}

/// Everything `edgectl status` shows about the VIP on this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Snapshot {
    pub interface: String,
    pub vip: Ipv4Addr,
    pub vrid: u8,
    /// Our advert source; `None` before the interface was read.
    pub primary_address: Option<Ipv4Addr>,
    pub state: State,
    /// The master as seen from here (us when master).
    pub master: Option<MasterInfo>,
    pub configured_priority: u8,
    pub effective_priority: u8,
    pub advert_interval_ms: u64,
    pub checksum: ChecksumMode,
    pub unicast_peers: Vec<Ipv4Addr>,
    pub transitions: u64,
    /// Unix time (ms) of the last transition.
    pub last_transition_unix_ms: Option<u64>,
    pub health: Option<HealthStatus>,
    pub counters: Counters,
}

impl Snapshot {
    pub fn is_master(&self) -> bool {
        self.state == State::Master
    }
}
