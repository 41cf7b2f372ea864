//! An in-memory [`NetOps`] for tests: records what the driver sends and does,
//! and lets the test inject received packets.
//!
//! Owns: the recording. Must not: touch the system.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use super::{InterfaceInfo, NetOps, VipChange};
use crate::error::Error;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeEvent {
    Sent { dst: Ipv4Addr, packet: Vec<u8> },
    Frame(Vec<u8>),
    VipAdded(Ipv4Addr),
    VipRemoved(Ipv4Addr),
}

/// What the fake system looks like now.
#[derive(Debug, Default)]
pub struct FakeState {
    pub events: Vec<FakeEvent>,
    pub addresses: BTreeSet<Ipv4Addr>,
    /// When set, sends fail with this errno (e.g. ENETDOWN).
    pub fail_sends: Option<i32>,
}

/// The fake's system side.
#[derive(Debug)]
pub struct FakeNet {
    info: InterfaceInfo,
    inbound: mpsc::UnboundedReceiver<Vec<u8>>,
    state: Arc<Mutex<FakeState>>,
}

/// The test's side: inject packets, inspect what happened.
#[derive(Debug, Clone)]
pub struct FakeWire {
    inject: mpsc::UnboundedSender<Vec<u8>>,
    state: Arc<Mutex<FakeState>>,
}

impl FakeNet {
    pub fn new(info: InterfaceInfo) -> (Self, FakeWire) {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(FakeState::default()));
        (
            Self {
                info,
                inbound: rx,
                state: state.clone(),
            },
            FakeWire { inject: tx, state },
        )
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FakeWire {
    /// Delivers a raw IPv4 packet to the driver.
    pub fn inject(&self, packet: Vec<u8>) {
        // The driver may have stopped; then the packet is simply lost.
        let _ = self.inject.send(packet);
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the recorded events, leaving the list empty.
    pub fn take_events(&self) -> Vec<FakeEvent> {
        std::mem::take(&mut self.state().events)
    }

    pub fn has_address(&self, ip: Ipv4Addr) -> bool {
        self.state().addresses.contains(&ip)
    }
}

impl NetOps for FakeNet {
    async fn interface_info(&mut self) -> Result<InterfaceInfo, Error> {
        let mut info = self.info.clone();
        for a in &self.state().addresses {
            info.ipv4.push((*a, 32));
        }
        Ok(info)
    }

    async fn add_vip(&mut self, vip: Ipv4Addr) -> Result<VipChange, Error> {
        let mut s = self.state();
        s.events.push(FakeEvent::VipAdded(vip));
        Ok(if s.addresses.insert(vip) {
            VipChange::Changed
        } else {
            VipChange::Unchanged
        })
    }

    async fn remove_vip(&mut self, vip: Ipv4Addr) -> Result<VipChange, Error> {
        let mut s = self.state();
        s.events.push(FakeEvent::VipRemoved(vip));
        Ok(if s.addresses.remove(&vip) {
            VipChange::Changed
        } else {
            VipChange::Unchanged
        })
    }

    fn send_packet(&mut self, dst: Ipv4Addr, packet: &[u8]) -> Result<(), Error> {
        let mut s = self.state();
        if let Some(errno) = s.fail_sends {
            return Err(Error::io(
                "send advert",
                std::io::Error::from_raw_os_error(errno),
            ));
        }
        s.events.push(FakeEvent::Sent {
            dst,
            packet: packet.to_vec(),
        });
        Ok(())
    }

    async fn recv_packet(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        match self.inbound.recv().await {
            Some(p) => {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                Ok(n)
            }
            // The test dropped its side: nothing will ever arrive.
            None => std::future::pending().await,
        }
    }

    fn send_frame(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.state().events.push(FakeEvent::Frame(frame.to_vec()));
        Ok(())
    }
}
