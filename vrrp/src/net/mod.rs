//! System access the driver needs, behind one small trait: read the
//! interface, add and remove the VIP, send and receive raw VRRP packets, send
//! gratuitous ARP frames. [`linux::LinuxNet`] is the real thing, [`fake::FakeNet`]
//! records calls so the driver loop is tested without root.
//!
//! Owns: the boundary between protocol and operating system. Must not: hold
//! protocol state or decide anything; implementations only carry bytes.

use std::future::Future;
use std::net::Ipv4Addr;

use crate::error::Error;

pub mod fake;
pub mod linux;

/// What the driver needs to know about the interface at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub index: u32,
    pub mac: [u8; 6],
    /// IPv4 addresses with their prefix lengths, in kernel order.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

/// Outcome of adding or removing the VIP (both directions are idempotent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VipChange {
    Changed,
    Unchanged,
}

/// The system calls behind one VRRP instance on one interface.
pub trait NetOps: Send {
    fn interface_info(&mut self) -> impl Future<Output = Result<InterfaceInfo, Error>> + Send;

    /// Adds `vip/32`; an existing address is [`VipChange::Unchanged`], not an error.
    fn add_vip(&mut self, vip: Ipv4Addr) -> impl Future<Output = Result<VipChange, Error>> + Send;

    /// Removes `vip/32` if present.
    fn remove_vip(
        &mut self,
        vip: Ipv4Addr,
    ) -> impl Future<Output = Result<VipChange, Error>> + Send;

    /// Sends a complete IPv4 packet (header included) to `dst`.
    fn send_packet(&mut self, dst: Ipv4Addr, packet: &[u8]) -> Result<(), Error>;

    /// Waits for the next IPv4 packet of protocol 112 (header included) and
    /// returns its length in `buf`. Must be cancel-safe.
    fn recv_packet(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, Error>> + Send;

    /// Sends a complete Ethernet frame out of the interface.
    fn send_frame(&mut self, frame: &[u8]) -> Result<(), Error>;
}
