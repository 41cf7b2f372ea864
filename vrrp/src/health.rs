//! Health tracking with keepalived's `weight -N` semantics: after `fall`
//! consecutive failed checks the effective priority drops by `weight`; after
//! `rise` consecutive good checks it comes back. A failing check never forces
//! the FAULT state, so a lone server still holds the VIP while its API server
//! is starting, and a server whose API is dead loses the VIP to a healthy peer.
//!
//! Owns: the counting and the effective priority. Must not: run checks, sleep
//! or do IO; the caller feeds results.

use serde::{Deserialize, Serialize};

use crate::config::HealthConfig;

/// Health as tracked so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HealthStatus {
    pub failing: bool,
    /// Consecutive results that agree with each other (toward fall or rise).
    pub streak: u32,
    pub checks: u64,
    pub failures: u64,
}

/// The result of one check changed the tracked health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// `fall` failures in a row: the weight now applies.
    Failed,
    /// `rise` successes in a row: the weight no longer applies.
    Recovered,
}

/// Counts check results into a failing/healthy verdict.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    cfg: HealthConfig,
    failing: bool,
    streak: u32,
    checks: u64,
    failures: u64,
}

impl HealthTracker {
    pub fn new(cfg: HealthConfig) -> Self {
        Self {
            failing: cfg.start_failing,
            cfg,
            streak: 0,
            checks: 0,
            failures: 0,
        }
    }

    pub fn is_failing(&self) -> bool {
        self.failing
    }

    pub fn status(&self) -> HealthStatus {
        HealthStatus {
            failing: self.failing,
            streak: self.streak,
            checks: self.checks,
            failures: self.failures,
        }
    }

    /// Records one check result; returns the change it caused, if any.
    pub fn record(&mut self, ok: bool) -> Option<Change> {
        self.checks += 1;
        if !ok {
            self.failures += 1;
        }
        // A result that agrees with the current verdict resets the streak
        // toward the opposite verdict.
        if ok != self.failing {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.failing {
            self.cfg.rise
        } else {
            self.cfg.fall
        };
        if self.streak < needed.max(1) {
            return None;
        }
        self.streak = 0;
        self.failing = !self.failing;
        Some(if self.failing {
            Change::Failed
        } else {
            Change::Recovered
        })
    }

    /// `base` lowered by the weight while failing, never below 1 (0 means resign).
    pub fn effective_priority(&self, base: u8) -> u8 {
        if self.failing {
            base.saturating_sub(self.cfg.weight).max(1)
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(start_failing: bool) -> HealthTracker {
        HealthTracker::new(HealthConfig {
            fall: 3,
            rise: 2,
            weight: 60,
            start_failing,
        })
    }

    #[test]
    fn falls_after_fall_failures_in_a_row() {
        let mut t = tracker(false);
        assert_eq!(t.effective_priority(150), 150);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a success resets the count");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(Change::Failed));
        assert_eq!(t.effective_priority(150), 90);
        assert_eq!(t.record(false), None, "already failing");
    }

    #[test]
    fn rises_after_rise_successes_in_a_row() {
        let mut t = tracker(true);
        assert_eq!(t.effective_priority(150), 90);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(Change::Recovered));
        assert_eq!(t.effective_priority(150), 150);
        assert_eq!(t.status().checks, 4);
        assert_eq!(t.status().failures, 1);
    }

    #[test]
    fn weight_never_reaches_zero() {
        let t = tracker(true);
        assert_eq!(t.effective_priority(50), 1);
        assert_eq!(t.effective_priority(1), 1);
    }
}
