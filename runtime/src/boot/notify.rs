//! Readiness notification, systemd's protocol: the child sends `READY=1` as
//! a datagram to the socket named by `NOTIFY_SOCKET`. `edged init` listens;
//! under systemd the same call tells systemd.
//!
//! Owns both ends. Must not fail the caller: a server that cannot notify
//! still serves.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use super::BootError;

/// Tells the supervisor (edged init or systemd) that start-up is done.
/// Does nothing when `NOTIFY_SOCKET` is unset.
pub fn ready() {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let sent = match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|a| sock.send_to_addr(b"READY=1", &a))
        }
        None => sock.send_to(b"READY=1", &target),
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "could not send READY=1");
    }
}

/// The listening end.
pub struct Listener {
    socket: tokio::net::UnixDatagram,
}

impl Listener {
    pub fn bind(path: &Path) -> Result<Self, BootError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| BootError::io("cannot create", dir, e))?;
        }
        let _ = std::fs::remove_file(path);
        let socket = tokio::net::UnixDatagram::bind(path)
            .map_err(|e| BootError::io("cannot listen on", path, e))?;
        Ok(Self { socket })
    }

    /// Waits for a `READY=1` message.
    pub async fn ready(&self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.recv(&mut buf).await {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]);
                    if msg.lines().any(|l| l.trim() == "READY=1") {
                        return;
                    }
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
    }
}
