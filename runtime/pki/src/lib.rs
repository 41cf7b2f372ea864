//! Edgeplane's certificates, keys and join token files: everything a server needs to prove
//! who it is and to decide who its clients are.
//!
//! Owns: the cluster's certificate authorities and what they sign
//! ([`ca`], [`cluster`]), reading an identity out of a verified peer
//! certificate and the CA hash carried in tokens ([`identity`]), the K3s join
//! token ([`token`]), encryption of the bootstrap data kept in the datastore
//! ([`envelope`]), Kubernetes secrets encryption at rest ([`encryption`]),
//! kubeconfig files ([`kubeconfig`]) and node password hashes ([`passwd`]).
//!
//! Must not: talk to the network or the datastore (callers move bytes; this
//! crate only produces and checks them), log or return a secret in an error,
//! or write a file any other way than atomically with its final mode.
//! File IO is confined to the functions that take a directory or a path.
//! Depends only on `edge-config` (for the token, SAN and secret types): no
//! tokio.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod ca;
pub mod cluster;
mod der;
pub mod encryption;
pub mod envelope;
mod error;
pub mod files;
pub mod identity;
pub mod kubeconfig;
pub mod passwd;
pub mod token;

pub use ca::{CertAndKey, CertificateAuthority};
pub use cluster::{CertAction, ClusterPki, EnsuredCert, IssueReason, PkiBundle};
pub use error::PkiError;
pub use identity::{Identity, ca_hash, identity};

#[cfg(test)]
mod tests;
