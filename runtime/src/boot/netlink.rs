//! Static interface configuration over rtnetlink: link up, address, default
//! route. No `ip` binary needed on the image.
//!
//! Owns the netlink requests. Runs in the calling thread's network
//! namespace (tests enter a namespace first). Must not touch interfaces it
//! was not asked about.

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use edge_config::edge::HostAddress;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().raw_os_error(),
        _ => None,
    }
}

async fn index(handle: &Handle, name: &str) -> Result<u32, String> {
    match handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
    {
        Ok(Some(m)) => Ok(m.header.index),
        Ok(None) => Err("no such interface (see `ip link`)".into()),
        Err(e) if errno(&e) == Some(ENODEV) => Err("no such interface (see `ip link`)".into()),
        Err(e) => Err(format!("look up the interface: {e}")),
    }
}

const ENODEV: i32 = nix::errno::Errno::ENODEV as i32;
const EEXIST: i32 = nix::errno::Errno::EEXIST as i32;

async fn connect() -> Result<(Handle, tokio::task::JoinHandle<()>), String> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| format!("open a netlink socket: {e}"))?;
    Ok((handle, tokio::spawn(conn)))
}

/// The names of every link, loopback excluded, sorted.
pub async fn links() -> Result<Vec<String>, String> {
    use netlink_packet_route::link::{LinkAttribute, LinkFlags};
    let (handle, task) = connect().await?;
    let r = handle
        .link()
        .get()
        .execute()
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| format!("list links: {e}"));
    task.abort();
    let mut names: Vec<String> = r?
        .into_iter()
        .filter(|m| !m.header.flags.contains(LinkFlags::Loopback))
        .filter_map(|m| {
            m.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n),
                _ => None,
            })
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Sets a link up.
pub async fn link_up(name: &str) -> Result<(), String> {
    let (handle, task) = connect().await?;
    let r = async {
        let idx = index(&handle, name).await?;
        handle
            .link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await
            .map_err(|e| format!("set up: {e}"))
    }
    .await;
    task.abort();
    r
}

/// Brings the link up, adds the address (kept if present) and, with a
/// gateway, the default route through it (replacing any other).
pub async fn configure(
    name: &str,
    address: HostAddress,
    gateway: Option<IpAddr>,
) -> Result<(), String> {
    let (handle, task) = connect().await?;
    let r = async {
        let idx = index(&handle, name).await?;
        handle
            .link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await
            .map_err(|e| format!("set up: {e}"))?;
        match handle
            .address()
            .add(idx, address.ip, address.prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => return Err(format!("add {address}: {e}")),
        }
        if let Some(gw) = gateway {
            let route = match gw {
                IpAddr::V4(g) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .gateway(g)
                    .output_interface(idx)
                    .build(),
                IpAddr::V6(g) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .gateway(g)
                    .output_interface(idx)
                    .build(),
            };
            handle
                .route()
                .add(route)
                .replace()
                .execute()
                .await
                .map_err(|e| format!("add the default route via {gw}: {e}"))?;
        }
        Ok(())
    }
    .await;
    task.abort();
    r
}

/// Runs a netlink job on a private single-thread runtime in a new thread (so
/// it works from inside another runtime), in the caller's network namespace.
pub fn blocking<T: Send + 'static>(
    job: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("netlink runtime: {e}"))?;
            rt.block_on(job)
        })
        .join()
        .map_err(|_| "netlink thread panicked".to_owned())?
    })
}
