//! The HTTPS API server: the Kubernetes API subset and the supervisor
//! endpoints on one port, like K3s.

pub mod discovery;
pub mod document;
pub mod openapi;
pub mod resources;
