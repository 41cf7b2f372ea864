//! Edgeplane's device runtime.
pub mod datastore;
