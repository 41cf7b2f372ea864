//! The HTTPS API server: the Kubernetes API subset and the supervisor
//! endpoints on one port, like K3s.

pub mod auth;
pub mod discovery;
pub mod document;
pub mod openapi;
pub mod protobuf;
pub mod request;
pub mod resources;
pub mod semantics;
pub mod status;
pub mod storage;
pub mod validation;
