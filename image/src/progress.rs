//! Progress for downloads and image writes: a bar on a terminal, plain lines
//! on stderr otherwise (CI logs, pipes).
//!
//! Owns how progress looks. Must not decide anything about what is reported.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Progress {
    bars: Option<Arc<MultiProgress>>,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Self::bars()
        } else {
            Self::lines()
        }
    }

    /// Always bars (drawn on stderr).
    pub fn bars() -> Self {
        Self {
            bars: Some(Arc::new(MultiProgress::with_draw_target(
                ProgressDrawTarget::stderr(),
            ))),
        }
    }

    /// One line on stderr when a task starts and one when it ends.
    pub fn lines() -> Self {
        Self { bars: None }
    }

    /// Nothing at all (tests, `-q`).
    pub fn silent() -> Self {
        Self {
            bars: Some(Arc::new(MultiProgress::with_draw_target(
                ProgressDrawTarget::hidden(),
            ))),
        }
    }

    /// Starts a task of `total` bytes (unknown when `None`).
    pub fn task(&self, label: &str, total: Option<u64>) -> Task {
        match &self.bars {
            Some(multi) => {
                let bar = match total {
                    Some(n) => ProgressBar::new(n).with_style(
                        ProgressStyle::with_template(
                            "{msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    ),
                    None => ProgressBar::new_spinner(),
                };
                let bar = multi.add(bar.with_message(label.to_owned()));
                Task {
                    label: label.to_owned(),
                    bar: Some(bar),
                    done: 0,
                }
            }
            None => {
                match total {
                    Some(n) => eprintln!("{label}: {} ...", human_bytes(n)),
                    None => eprintln!("{label} ..."),
                }
                Task {
                    label: label.to_owned(),
                    bar: None,
                    done: 0,
                }
            }
        }
    }
}

/// One task in progress.
#[derive(Debug)]
pub struct Task {
    label: String,
    bar: Option<ProgressBar>,
    done: u64,
}

impl Task {
    /// `n` more bytes done.
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the task with a short result (`"verified"`, `"cached"`).
    pub fn finish(self, result: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(format!("{}: {result}", self.label)),
            None => eprintln!("{}: {result}", self.label),
        }
    }
}

/// `12.3 MiB`, `512 KiB`, `17 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(17), "17 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(13 * 1024 * 1024 + 300 * 1024), "13.3 MiB");
    }
}
