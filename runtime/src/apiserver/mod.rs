//! The HTTPS API server: the Kubernetes API subset and the supervisor
//! endpoints on one port, like K3s.
//!
//! Pure building blocks (no IO): `resources` (the served kinds), `status`
//! (errors as `metav1.Status`), `validation` (names, labels, strict
//! decoding), `selector` (label and field selectors), `patch` (merge, JSON
//! and strategic merge patches) and `table` (server-side printing and
//! content negotiation), `review` (the self-reviews).

pub mod auth;
pub mod discovery;
pub mod document;
pub mod handlers;
pub mod http;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod request;
pub mod resources;
pub mod review;
pub mod selector;
pub mod semantics;
pub mod status;
pub mod storage;
pub mod supervisor;
pub mod table;
pub mod validation;
pub mod watch;
