//! `edgectl config validate | render | schema`: the device configuration
//! checks `edged init` runs at boot, run on a laptop or at image build time.
//!
//! Owns reading the files an operator names (or, with none, the device's own
//! sources) and shaping the results for text or JSON output. Must not print:
//! the binary does. Never returns a secret: render redacts tokens and
//! datastore passwords.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use crate::boot::layout::Layout;
use edge_config::render;
use edge_config::tree::Layer;
use edge_config::validate::{Diagnostic, Input, Loaded, load};

/// The layers to check, lowest first.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The site config baked into the image (`edge-image build --config`).
    pub site: Option<PathBuf>,
    /// Device files (`edge.yaml`), in increasing precedence.
    pub files: Vec<PathBuf>,
    /// A kernel command line (its `edge.*` arguments are the top layer).
    pub cmdline: Option<String>,
}

impl Sources {
    /// The device's own sources, those that exist: the paths `edged init`
    /// reads ([`Layout::device`]).
    pub fn device() -> Self {
        let layout = Layout::device();
        let existing = |p: PathBuf| Some(p).filter(|p| p.exists());
        Self {
            site: existing(layout.site_config.clone()),
            files: existing(layout.edge_yaml()).into_iter().collect(),
            cmdline: std::fs::read_to_string(&layout.cmdline).ok(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.site.is_none() && self.files.is_empty() && self.cmdline.is_none()
    }
}

fn read(path: &Path, layer: Layer) -> Result<Input, Diagnostic> {
    let name = path.display().to_string();
    std::fs::read(path)
        .map(|bytes| Input::yaml(name.clone(), layer, bytes))
        .map_err(|e| Diagnostic::general(name, format!("cannot read: {e}")))
}

/// Reads and checks the sources.
pub fn check(sources: &Sources) -> (Loaded, Vec<Diagnostic>) {
    let mut inputs = Vec::new();
    let mut unreadable = Vec::new();
    let files = sources
        .site
        .iter()
        .map(|p| (p, Layer::Site))
        .chain(sources.files.iter().map(|p| (p, Layer::Device)));
    for (path, layer) in files {
        match read(path, layer) {
            Ok(i) => inputs.push(i),
            Err(d) => unreadable.push(d),
        }
    }
    if let Some(c) = &sources.cmdline {
        inputs.push(Input::cmdline(c.clone()));
    }
    (load(&inputs), unreadable)
}

/// The result of `validate`, as `-o json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks the sources: every error and warning, each located.
pub fn validate(sources: &Sources) -> Report {
    let (loaded, mut diagnostics) = check(sources);
    diagnostics.extend(loaded.diagnostics);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    Report {
        valid: errors == 0,
        errors,
        warnings: diagnostics.len() - errors,
        diagnostics,
    }
}

impl Report {
    /// One line per diagnostic, then the summary line.
    pub fn text(&self, sources: &Sources) -> String {
        let mut out: String = self.diagnostics.iter().map(|d| format!("{d}\n")).collect();
        out.push_str(&self.summary(sources));
        out.push('\n');
        out
    }

    /// The verdict, naming the sources in merge order: `valid: a < b (1
    /// warning)` or `invalid: 2 errors in a < b`.
    pub fn summary(&self, sources: &Sources) -> String {
        let names: Vec<String> = sources
            .site
            .iter()
            .chain(&sources.files)
            .map(|p| p.display().to_string())
            .chain(
                sources
                    .cmdline
                    .iter()
                    .map(|_| "kernel command line".to_owned()),
            )
            .collect();
        if self.valid {
            format!(
                "valid: {}{}",
                names.join(" < "),
                match self.warnings {
                    0 => String::new(),
                    n => format!(" ({n} warning{})", if n == 1 { "" } else { "s" }),
                }
            )
        } else {
            format!(
                "invalid: {} error{} in {}",
                self.errors,
                if self.errors == 1 { "" } else { "s" },
                names.join(" < ")
            )
        }
    }
}

/// The effective merged configuration, redacted, or every error.
pub fn render(sources: &Sources) -> Result<(Json, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (loaded, unreadable) = check(sources);
    if !unreadable.is_empty() {
        return Err(unreadable);
    }
    let warnings: Vec<Diagnostic> = loaded.warnings().cloned().collect();
    match loaded.into_result() {
        Ok(c) => Ok((render::effective(&c), warnings)),
        Err(e) => Err(e.0),
    }
}

/// The JSON Schema of `edge.yaml`.
pub fn schema() -> Json {
    edge_config::edge::json_schema()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_all_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let site = dir.path().join("site.yaml");
        let edge = dir.path().join("edge.yaml");
        std::fs::write(
            &site,
            "token: site-secret-token-0123\nclustr-dns: 10.43.0.10\n",
        )
        .expect("write");
        std::fs::write(&edge, "role: server\nhostname: edge_a\n").expect("write");
        let s = Sources {
            site: Some(site.clone()),
            files: vec![edge.clone(), dir.path().join("missing.yaml")],
            cmdline: Some("edge.vip.priority=90x".into()),
        };
        let r = validate(&s);
        assert!(!r.valid);
        let text = r.text(&s);
        assert!(
            text.contains(&format!("{}:2:1: clustr-dns:", site.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("{}:2:11: hostname:", edge.display())),
            "{text}"
        );
        assert!(text.contains("missing.yaml: cannot read"), "{text}");
        assert!(
            text.contains("kernel command line:1:1: vip.priority:"),
            "{text}"
        );
        assert!(!text.contains("site-secret"), "{text}");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["valid"], false);
        let typo = json["diagnostics"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["key"] == "clustr-dns"))
            .expect("the typo");
        assert_eq!(
            (typo["line"].as_u64(), typo["column"].as_u64()),
            (Some(2), Some(1))
        );
    }

    #[test]
    fn render_redacts() {
        let dir = tempfile::tempdir().expect("tmp");
        let edge = dir.path().join("edge.yaml");
        std::fs::write(
            &edge,
            "token: site-secret-token-0123\ndatastore-endpoint: postgres://edge:pw-secret@db:5432/edge\n",
        )
        .expect("write");
        let (v, _) = render(&Sources {
            files: vec![edge],
            ..Sources::default()
        })
        .expect("valid");
        let text = v.to_string();
        assert!(
            !text.contains("site-secret") && !text.contains("pw-secret"),
            "{text}"
        );
        assert_eq!(v["token"], "<redacted>");
        assert_eq!(v["datastore-endpoint"], "postgres://edge:***@db:5432/edge");
    }
}
