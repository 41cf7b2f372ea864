//! Which interface carries the virtual IP: this host's IPv4 addresses (read
//! with `getifaddrs`) and the choice among them, checked when the server
//! starts so a VIP off the interface's subnet fails at once, naming the flag
//! and the subnets the interface has.
//!
//! Owns: inferring `--vip-interface` and the start-time subnet check. Must
//! not: open sockets or change anything on the system; the subnet rule itself
//! is the `vrrp` crate's [`vrrp::config::select_primary`].

use std::net::Ipv4Addr;

use vrrp::config::select_primary;
use vrrp::{InterfaceName, VirtualIp};

use super::VipError;

/// One network interface and its IPv4 addresses (with prefix lengths), in
/// the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

/// The interface the VIP goes on, and this host's own addresses there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub name: InterfaceName,
    /// The interface's own IPv4 addresses (the VIP left by a crash excluded).
    pub own: Vec<Ipv4Addr>,
    /// The advert source: the address whose subnet holds the VIP.
    pub primary: Ipv4Addr,
}

/// Every interface of this network namespace, with its IPv4 addresses.
pub fn list() -> Result<Vec<Interface>, VipError> {
    let mut out: Vec<Interface> = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(VipError::ListInterfaces)? {
        // `eth0:1` is a label of an address on eth0.
        let name = ifa
            .interface_name
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let v4 = |a: Option<nix::sys::socket::SockaddrStorage>| {
            a.and_then(|a| a.as_sockaddr_in().map(|s| s.ip()))
        };
        let address = v4(ifa.address).map(|ip| {
            let prefix = v4(ifa.netmask).map_or(32, |m| u32::from(m).count_ones() as u8);
            (ip, prefix)
        });
        let entry = match out.iter_mut().position(|i| i.name == name) {
            Some(i) => &mut out[i],
            None => {
                out.push(Interface {
                    name,
                    ipv4: Vec::new(),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        if let Some(a) = address {
            entry.ipv4.push(a);
        }
    }
    Ok(out)
}

fn addresses(ipv4: &[(Ipv4Addr, u8)]) -> String {
    if ipv4.is_empty() {
        return "no IPv4 address".into();
    }
    ipv4.iter()
        .map(|(a, p)| format!("{a}/{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(interfaces: &[Interface]) -> String {
    interfaces
        .iter()
        .map(|i| format!("{} {}", i.name, addresses(&i.ipv4)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn chosen(vip: VirtualIp, i: &Interface) -> Result<Chosen, VipError> {
    let primary = select_primary(vip, &i.name, &i.ipv4).map_err(VipError::from_config)?;
    let name = i.name.parse().map_err(VipError::from_config)?;
    Ok(Chosen {
        name,
        own: i
            .ipv4
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| *a != vip.addr())
            .collect(),
        primary,
    })
}

/// The interface named by `--vip-interface`, or else the one interface whose
/// IPv4 subnet holds the VIP; errors name the flags and what the host has.
pub fn choose(
    vip: VirtualIp,
    wanted: Option<&InterfaceName>,
    interfaces: &[Interface],
) -> Result<Chosen, VipError> {
    if let Some(want) = wanted {
        let Some(i) = interfaces.iter().find(|i| i.name == want.as_str()) else {
            return Err(VipError::NoSuchInterface {
                interface: want.to_string(),
                available: interfaces
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        return chosen(vip, i);
    }
    let mut found = Vec::new();
    for i in interfaces {
        match chosen(vip, i) {
            Ok(c) => found.push(c),
            // The VIP is some interface's own address: say so, whichever it is.
            Err(e @ VipError::VipIsInterfaceAddress { .. }) => return Err(e),
            Err(_) => {}
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(VipError::CannotInfer {
            vip: vip.addr(),
            interfaces: summary(interfaces),
        }),
        _ => Err(VipError::Ambiguous {
            vip: vip.addr(),
            interfaces: found
                .iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifs() -> Vec<Interface> {
        vec![
            Interface {
                name: "lo".into(),
                ipv4: vec![(Ipv4Addr::LOCALHOST, 8)],
            },
            Interface {
                name: "eth0".into(),
                ipv4: vec![(Ipv4Addr::new(10, 99, 0, 1), 24)],
            },
            Interface {
                name: "wlan0".into(),
                ipv4: vec![(Ipv4Addr::new(192, 168, 1, 5), 24)],
            },
            Interface {
                name: "dummy0".into(),
                ipv4: vec![],
            },
        ]
    }

    fn vip(s: &str) -> VirtualIp {
        s.parse().expect("vip")
    }

    #[test]
    fn infers_the_interface_whose_subnet_holds_the_vip() {
        let c = choose(vip("10.99.0.100"), None, &ifs()).expect("inferred");
        assert_eq!(c.name.as_str(), "eth0");
        assert_eq!(c.primary, Ipv4Addr::new(10, 99, 0, 1));
        assert_eq!(c.own, [Ipv4Addr::new(10, 99, 0, 1)]);
        let c = choose(vip("192.168.1.77"), None, &ifs()).expect("inferred");
        assert_eq!(c.name.as_str(), "wlan0");
    }

    #[test]
    fn a_stale_vip_on_the_interface_is_not_an_own_address() {
        let mut list = ifs();
        list[1].ipv4.push((Ipv4Addr::new(10, 99, 0, 100), 32));
        let c = choose(vip("10.99.0.100"), None, &list).expect("inferred");
        assert_eq!(c.own, [Ipv4Addr::new(10, 99, 0, 1)]);
    }

    #[test]
    fn explicit_interface_is_checked_against_its_subnets() {
        let want: InterfaceName = "wlan0".parse().expect("name");
        let e = choose(vip("10.99.0.100"), Some(&want), &ifs()).expect_err("off subnet");
        let text = e.to_string();
        assert!(
            text.starts_with(
                "--vip 10.99.0.100 is not inside any IPv4 subnet of --vip-interface wlan0"
            ) && text.contains("192.168.1.5/24"),
            "{text}"
        );
        let want: InterfaceName = "eth9".parse().expect("name");
        let e = choose(vip("10.99.0.100"), Some(&want), &ifs()).expect_err("missing");
        assert!(
            e.to_string()
                .contains("--vip-interface eth9: no such interface")
                && e.to_string().contains("lo, eth0, wlan0, dummy0"),
            "{e}"
        );
        let want: InterfaceName = "dummy0".parse().expect("name");
        let e = choose(vip("10.99.0.100"), Some(&want), &ifs()).expect_err("no ipv4");
        assert!(e.to_string().contains("dummy0 has no IPv4 address"), "{e}");
    }

    #[test]
    fn no_or_several_candidates_ask_for_the_flag() {
        let e = choose(vip("172.16.0.1"), None, &ifs()).expect_err("none");
        let text = e.to_string();
        assert!(text.contains("set --vip-interface"), "{text}");
        assert!(
            text.contains("eth0 10.99.0.1/24") && text.contains("dummy0 no IPv4 address"),
            "{text}"
        );
        let mut list = ifs();
        list[3].ipv4.push((Ipv4Addr::new(10, 99, 0, 2), 16));
        let e = choose(vip("10.99.0.100"), None, &list).expect_err("two");
        assert!(
            e.to_string().contains("several interfaces (eth0, dummy0)"),
            "{e}"
        );
        let e = choose(vip("10.99.0.1"), None, &ifs()).expect_err("own address");
        assert!(
            e.to_string().contains("is the address of interface eth0"),
            "{e}"
        );
    }

    #[test]
    fn lists_this_hosts_interfaces() {
        let list = list().expect("getifaddrs works");
        assert!(list.iter().any(|i| i.name == "lo"), "{list:?}");
    }
}
