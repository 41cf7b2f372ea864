//! The HTTPS API server: the Kubernetes API subset and the supervisor
//! endpoints on one port, like K3s.

pub mod patch;
pub mod resources;
pub mod selector;
pub mod status;
pub mod table;
pub mod validation;
