//! Errors of the `vrrp` crate: bad configuration, missing privileges, and
//! failures of the system calls behind [`crate::net::NetOps`].
//!
//! Owns: the messages a user reads when the instance cannot start or run.
//! Must not: log; the caller decides.

use crate::config::ConfigError;

/// A Linux capability the transport needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Raw sockets: IP protocol 112 and AF_PACKET for gratuitous ARP.
    NetRaw,
    /// Adding and removing the VIP through netlink, SO_BINDTODEVICE.
    NetAdmin,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NetRaw => "CAP_NET_RAW",
            Self::NetAdmin => "CAP_NET_ADMIN",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(
        "missing {capability}, needed for {needed_for}; run as root or grant it \
         (e.g. `setcap cap_net_raw,cap_net_admin+ep <binary>` or systemd AmbientCapabilities)"
    )]
    MissingCapability {
        capability: Capability,
        needed_for: &'static str,
    },

    #[error("interface {interface}: {reason}")]
    Interface { interface: String, reason: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("netlink: {context}: {message}")]
    Netlink { context: String, message: String },
}

impl Error {
    #[cfg(feature = "linux")]
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
