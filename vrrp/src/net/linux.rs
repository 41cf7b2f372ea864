//! Linux implementation of [`NetOps`]: a raw IPv4 socket for protocol 112
//! (`IP_HDRINCL`, bound to the interface, joined to 224.0.0.18 on it,
//! multicast loop off), an `AF_PACKET` socket for gratuitous ARP, and
//! rtnetlink for the VIP.
//!
//! Owns: socket options and netlink requests. Must not: parse VRRP or keep
//! protocol state. Needs CAP_NET_RAW and CAP_NET_ADMIN; [`check_capabilities`]
//! says which one is missing before anything is opened.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

use futures::TryStreamExt;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::LinkAttribute;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::{InterfaceInfo, NetOps, VipChange};
use crate::error::{Capability, Error};
use crate::packet::{IP_PROTOCOL, MULTICAST_GROUP, TTL};

const CAP_NET_ADMIN_BIT: u32 = 12;
const CAP_NET_RAW_BIT: u32 = 13;
const ETH_P_ARP: u16 = 0x0806;

/// The effective capability set of this process, from /proc/self/status.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

/// Fails with the first missing capability. Without /proc it lets the system
/// calls decide (they map EPERM to the same error).
pub fn check_capabilities() -> Result<(), Error> {
    let Some(caps) = effective_capabilities() else {
        return Ok(());
    };
    if caps & (1 << CAP_NET_RAW_BIT) == 0 {
        return Err(Error::MissingCapability {
            capability: Capability::NetRaw,
            needed_for: "the VRRP raw socket (IP protocol 112) and gratuitous ARP (AF_PACKET)",
        });
    }
    if caps & (1 << CAP_NET_ADMIN_BIT) == 0 {
        return Err(Error::MissingCapability {
            capability: Capability::NetAdmin,
            needed_for: "adding and removing the virtual IP through netlink",
        });
    }
    Ok(())
}

fn os_error(context: &str, e: std::io::Error, cap: Capability, needed_for: &'static str) -> Error {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Error::MissingCapability {
            capability: cap,
            needed_for,
        },
        _ => Error::io(context, e),
    }
}

fn netlink_errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().raw_os_error(),
        _ => None,
    }
}

fn netlink_error(context: String, e: rtnetlink::Error) -> Error {
    match netlink_errno(&e) {
        Some(libc::EPERM) | Some(libc::EACCES) => Error::MissingCapability {
            capability: Capability::NetAdmin,
            needed_for: "adding and removing the virtual IP through netlink",
        },
        _ => Error::Netlink {
            context,
            message: e.to_string(),
        },
    }
}

/// The link-layer destination of a broadcast frame on `ifindex`.
// The workspace denies unsafe code; building a `sockaddr_ll` for socket2 is
// the one place that needs it.
#[allow(unsafe_code)]
fn broadcast_link_address(ifindex: u32) -> SockAddr {
    let mut storage = socket2::SockAddrStorage::zeroed();
    // SAFETY: sockaddr_storage is at least as large and as aligned as
    // sockaddr_ll, and all-zero bytes are a valid sockaddr_ll.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_protocol = ETH_P_ARP.to_be();
    ll.sll_ifindex = ifindex as libc::c_int;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll of exactly `len` bytes.
    unsafe { SockAddr::new(storage, len) }
}

/// Registers the socket with tokio's reactor (tokio 1.54 deprecated the safe
/// `AsyncFd::new` in favour of this unsafe constructor).
#[allow(unsafe_code)]
fn register(sock: Socket) -> std::io::Result<AsyncFd<Socket>> {
    // SAFETY: a `Socket` owns its descriptor: it stays open and is the same
    // descriptor until the Socket is dropped, which only the AsyncFd can do.
    unsafe { AsyncFd::register(sock) }.map_err(std::io::Error::from)
}

/// The real system behind one instance.
pub struct LinuxNet {
    interface: String,
    index: u32,
    vrrp: AsyncFd<Socket>,
    arp: Socket,
    arp_dst: SockAddr,
    netlink: rtnetlink::Handle,
    netlink_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LinuxNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxNet")
            .field("interface", &self.interface)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Drop for LinuxNet {
    fn drop(&mut self) {
        self.netlink_task.abort();
    }
}

impl LinuxNet {
    /// Opens the sockets on `interface`. With `join_multicast` the socket
    /// joins 224.0.0.18 there (off for unicast-only peers). Must run inside a
    /// tokio runtime.
    pub async fn open(interface: &str, join_multicast: bool) -> Result<Self, Error> {
        check_capabilities()?;
        let (conn, netlink, _) =
            rtnetlink::new_connection().map_err(|e| Error::io("open a netlink socket", e))?;
        let netlink_task = tokio::spawn(conn);
        let (index, _) = link(&netlink, interface).await?;

        let vrrp_cap = "the VRRP raw socket (IP protocol 112)";
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IP_PROTOCOL))),
        )
        .map_err(|e| os_error("open raw socket", e, Capability::NetRaw, vrrp_cap))?;
        let ctx = |what: &str| format!("raw socket on {interface}: {what}");
        sock.set_nonblocking(true)
            .map_err(|e| Error::io(ctx("non-blocking"), e))?;
        sock.bind_device(Some(interface.as_bytes()))
            .map_err(|e| os_error(&ctx("SO_BINDTODEVICE"), e, Capability::NetRaw, vrrp_cap))?;
        sock.set_header_included_v4(true)
            .map_err(|e| Error::io(ctx("IP_HDRINCL"), e))?;
        sock.set_multicast_loop_v4(false)
            .map_err(|e| Error::io(ctx("IP_MULTICAST_LOOP"), e))?;
        sock.set_multicast_ttl_v4(u32::from(TTL))
            .map_err(|e| Error::io(ctx("IP_MULTICAST_TTL"), e))?;
        sock.set_ttl_v4(u32::from(TTL))
            .map_err(|e| Error::io(ctx("IP_TTL"), e))?;
        if join_multicast {
            sock.join_multicast_v4_n(&MULTICAST_GROUP, &InterfaceIndexOrAddress::Index(index))
                .map_err(|e| Error::io(ctx("join 224.0.0.18"), e))?;
        }
        let vrrp = register(sock).map_err(|e| Error::io(ctx("register with tokio"), e))?;

        let arp = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))).map_err(|e| {
            os_error(
                "open AF_PACKET socket",
                e,
                Capability::NetRaw,
                "gratuitous ARP (AF_PACKET)",
            )
        })?;
        arp.set_nonblocking(true)
            .map_err(|e| Error::io("AF_PACKET socket: non-blocking", e))?;

        Ok(Self {
            interface: interface.to_owned(),
            index,
            vrrp,
            arp,
            arp_dst: broadcast_link_address(index),
            netlink,
            netlink_task,
        })
    }

    async fn vip_entries(&self, vip: Ipv4Addr) -> Result<Vec<AddressMessage>, Error> {
        let all: Vec<AddressMessage> = self
            .netlink
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| netlink_error(format!("list addresses of {}", self.interface), e))?;
        Ok(all
            .into_iter()
            .filter(|m| m.header.index == self.index && m.header.prefix_len == 32)
            .filter(|m| ipv4_of(m) == Some(vip))
            .collect())
    }
}

fn ipv4_of(m: &AddressMessage) -> Option<Ipv4Addr> {
    if m.header.family != AddressFamily::Inet {
        return None;
    }
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
            _ => None,
        })
    })
}

async fn link(netlink: &rtnetlink::Handle, name: &str) -> Result<(u32, [u8; 6]), Error> {
    let not_found = || Error::Interface {
        interface: name.to_owned(),
        reason: "no such interface in this network namespace (see `ip link`)".to_owned(),
    };
    let msg = match netlink
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
    {
        Ok(Some(m)) => m,
        Ok(None) => return Err(not_found()),
        Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => return Err(not_found()),
        Err(e) => return Err(netlink_error(format!("look up interface {name}"), e)),
    };
    let mac = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(b) if b.len() == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(b);
                Some(mac)
            }
            _ => None,
        })
        .ok_or_else(|| Error::Interface {
            interface: name.to_owned(),
            reason: "has no Ethernet address; VRRP needs an Ethernet-like link".to_owned(),
        })?;
    Ok((msg.header.index, mac))
}

impl NetOps for LinuxNet {
    async fn interface_info(&mut self) -> Result<InterfaceInfo, Error> {
        let (index, mac) = link(&self.netlink, &self.interface).await?;
        let addrs: Vec<AddressMessage> = self
            .netlink
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| netlink_error(format!("list addresses of {}", self.interface), e))?;
        let ipv4 = addrs
            .iter()
            .filter(|m| m.header.index == index)
            .filter_map(|m| ipv4_of(m).map(|ip| (ip, m.header.prefix_len)))
            .collect();
        Ok(InterfaceInfo { index, mac, ipv4 })
    }

    async fn add_vip(&mut self, vip: Ipv4Addr) -> Result<VipChange, Error> {
        let res = self
            .netlink
            .address()
            .add(self.index, IpAddr::V4(vip), 32)
            .execute()
            .await;
        match res {
            Ok(()) => Ok(VipChange::Changed),
            Err(e) if netlink_errno(&e) == Some(libc::EEXIST) => Ok(VipChange::Unchanged),
            Err(e) => Err(netlink_error(
                format!("add {vip}/32 to {}", self.interface),
                e,
            )),
        }
    }

    async fn remove_vip(&mut self, vip: Ipv4Addr) -> Result<VipChange, Error> {
        let mut changed = VipChange::Unchanged;
        for m in self.vip_entries(vip).await? {
            match self.netlink.address().del(m).execute().await {
                Ok(()) => changed = VipChange::Changed,
                Err(e) if netlink_errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => {
                    return Err(netlink_error(
                        format!("remove {vip}/32 from {}", self.interface),
                        e,
                    ));
                }
            }
        }
        Ok(changed)
    }

    fn send_packet(&mut self, dst: Ipv4Addr, packet: &[u8]) -> Result<(), Error> {
        self.vrrp
            .get_ref()
            .send_to(packet, &SockAddr::from(SocketAddrV4::new(dst, 0)))
            .map(|_| ())
            .map_err(|e| Error::io(format!("send advert to {dst} on {}", self.interface), e))
    }

    async fn recv_packet(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            let mut guard = self
                .vrrp
                .readable()
                .await
                .map_err(|e| Error::io("wait for the VRRP socket", e))?;
            match guard.try_io(|fd| {
                let mut sock: &Socket = fd.get_ref();
                sock.read(buf)
            }) {
                Ok(res) => return res.map_err(|e| Error::io("receive on the VRRP socket", e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn send_frame(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.arp
            .send_to(frame, &self.arp_dst)
            .map(|_| ())
            .map_err(|e| Error::io(format!("send gratuitous ARP on {}", self.interface), e))
    }
}
