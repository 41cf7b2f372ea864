//! Subject alternative names as an operator writes them (`--tls-san`,
//! `tls-san:`): an IP address or a DNS name, validated.
//!
//! Owns the parsing and printing of [`San`]. Putting one into a certificate
//! is `edge-pki`'s. Must not do IO.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A subject alternative name is neither an IP address nor a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid subject alternative name {value:?}: {reason}; use a DNS name (e.g. \
     edge-1.example.com) or an IP address (e.g. 10.0.0.5)"
)]
pub struct SanError {
    pub value: String,
    pub reason: String,
}

/// A subject alternative name: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum San {
    /// A DNS name, lower-cased, without a trailing dot.
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl San {
    /// Parses `value` as an IP address, else as a DNS name.
    pub fn parse(value: &str) -> Result<San, SanError> {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let bad = |reason: &str| SanError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let name = value
            .strip_suffix('.')
            .unwrap_or(value)
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.len() > 253 {
            return Err(bad("it is longer than 253 characters"));
        }
        for (i, label) in name.split('.').enumerate() {
            if label.is_empty() {
                return Err(bad("it has an empty label (two dots in a row)"));
            }
            if label.len() > 63 {
                return Err(bad("a label is longer than 63 characters"));
            }
            let wildcard = i == 0 && label == "*";
            let valid = label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !wildcard && !valid {
                return Err(bad(
                    "it contains a character other than letters, digits, '-' and '_'",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label starts or ends with '-'"));
            }
        }
        Ok(San::Dns(name))
    }
}

impl FromStr for San {
    type Err = SanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        San::parse(s)
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_parse_table() {
        let ok = [
            ("10.0.0.1", San::Ip("10.0.0.1".parse().unwrap())),
            ("::1", San::Ip("::1".parse().unwrap())),
            ("Edge-1.Example.COM.", San::Dns("edge-1.example.com".into())),
            ("*.svc", San::Dns("*.svc".into())),
            ("kubernetes", San::Dns("kubernetes".into())),
        ];
        for (input, want) in ok {
            assert_eq!(San::parse(input).unwrap(), want, "{input}");
        }
        for bad in ["", "a..b", "-a.b", "a b", "x.*", "é.com"] {
            let err = San::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("invalid subject alternative name"),
                "{bad}: {err}"
            );
        }
    }
}
