//! `edgectl` commands. Each command is a library function that returns its
//! result; the binary prints it.

pub mod client;
pub mod config;
pub mod kubeconfig;
