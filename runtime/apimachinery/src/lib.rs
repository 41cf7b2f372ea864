//! Edgeplane's Kubernetes API machinery: what a request and an object mean,
//! independent of how they arrive.
//!
//! Owns the served kinds (`resources`), errors as `metav1.Status`
//! (`status`), names, labels and strict decoding (`validation`), label and
//! field selectors (`selector`), merge, JSON and strategic merge patches
//! (`patch`), server-side tables and content negotiation (`table`), the
//! per-kind semantics of create and update (`semantics`), protobuf bodies
//! (`protobuf`), and the discovery and OpenAPI documents (`discovery`,
//! `openapi`, `document`).
//!
//! Must not do IO: no tokio, no sockets, no files, no clock reads that a
//! caller cannot supply. The API server (in `edge-runtime`) and every
//! controller build on this crate; it depends on no other Edgeplane crate.
//!
//! Module order, bottom up (a module uses only those before it):
//! `status` → `validation` → `resources` → `selector`, `patch`, `table`,
//! `semantics`, `protobuf` → `document` → `discovery` → `openapi`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod discovery;
pub mod document;
#[doc(hidden)]
pub mod fuzzing;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod selector;
pub mod semantics;
pub mod status;
pub mod table;
pub mod validation;
