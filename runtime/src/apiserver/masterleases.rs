//! The apiserver's record of which servers are alive: one key
//! `/registry/masterleases/<ip>` per server, holding `{"ip", "port"}` and
//! attached to a datastore lease the server keeps alive
//! (`controllers::endpoints::announce`).
//!
//! Owns the key layout and reading the live set, which both the supervisor's
//! `/v1-edge/apiservers` and the `kubernetes` Endpoints reconciler use. Must
//! not write the keys (the announcing loop does) or decide what a reader
//! makes of the set.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use super::handlers::Api;
use edge_apimachinery::status::ApiError;
use edge_datastore::KeyRange;

const PREFIX: &str = "/registry/masterleases/";

/// The key of the server at `ip`.
pub fn key(ip: IpAddr) -> String {
    format!("{PREFIX}{ip}")
}

/// Every live server's address and port, in key order. A value that does
/// not parse (written by hand) is skipped.
pub async fn live_servers(api: &Api) -> Result<Vec<SocketAddr>, ApiError> {
    let listed = api
        .objects
        .datastore()
        .list(&KeyRange::prefix(PREFIX), 0, None)
        .await
        .map_err(|e| ApiError::service_unavailable(format!("the datastore is unavailable: {e}")))?;
    Ok(listed
        .kvs
        .iter()
        .filter_map(|kv| {
            let v: Value = serde_json::from_slice(&kv.value).ok()?;
            let ip: IpAddr = v["ip"].as_str()?.parse().ok()?;
            let port = u16::try_from(v["port"].as_u64()?).ok()?;
            Some(SocketAddr::new(ip, port))
        })
        .collect())
}

/// `host:port` of every live server, sorted.
pub async fn live_addresses(api: &Api) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = live_servers(api)
        .await?
        .iter()
        .map(SocketAddr::to_string)
        .collect();
    out.sort();
    Ok(out)
}
