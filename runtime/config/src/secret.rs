//! A wrapper for values that must never reach a log line or an error message.
//!
//! Owns redaction only: `Debug` and `Display` print `<redacted>`, and the value
//! is reachable through [`Secret::expose`], which makes every use greppable.
//! Must not implement `Serialize`: writing a secret out is an explicit act.

use std::fmt;

/// A secret value (token, password, key material).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Callers must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(
            format!("{s} {s:?} {s:#?}"),
            "<redacted> <redacted> <redacted>"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}
