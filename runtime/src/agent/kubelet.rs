//! The node's own HTTP API, as a kubelet serves it, reached by the servers
//! only through the agent's tunnels (the agent listens on no port for it).
//! Today it answers `/healthz`; pods bring logs, exec and the rest.
//!
//! Owns the routes. Must not trust the caller beyond the tunnel: a request
//! arrives only from a server the agent dialled and verified.

use axum::Router;
use axum::routing::get;

/// The routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
