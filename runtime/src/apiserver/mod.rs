//! The HTTPS API server: the Kubernetes API subset and the supervisor
//! endpoints on one port, like K3s.
//!
//! Owns the listener (`http`), allocations at create (`allocate`), authentication and authorization (`auth`),
//! request routing (`request`), the verbs over the datastore (`handlers`,
//! `storage`, `watch`), the self-reviews (`review`), the live-server
//! records (`masterleases`), node passwords (`nodepassword`), the supervisor
//! endpoints (`supervisor`) and the node proxy over agents' tunnels (`http`). What a request and an object mean (kinds,
//! Status errors, validation, selectors, patches, tables, protobuf,
//! discovery and OpenAPI) is `edge_apimachinery`, which does no IO.

pub mod allocate;
pub mod auth;
pub mod handlers;
pub mod http;
pub mod masterleases;
pub mod nodepassword;
pub mod request;
pub mod review;
pub mod storage;
pub mod supervisor;
pub mod watch;
