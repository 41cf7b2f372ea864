//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded
//! into the JSON object a JSON client would have sent for the same object.
//!
//! The wire grammar is in [`wire`]. Must not panic on any input.

pub mod wire;
