//! Layering and validation of device configuration: the site config baked
//! into the image < `edge.yaml` on the boot partition < `edge.*` kernel
//! arguments, merged into one [`EdgeConfig`], or every problem found, each
//! with file, line, column and key.
//!
//! Rules (the operator's view; README "edge.yaml"):
//! - a higher layer replaces a key of a lower one; sections (`vip`,
//!   `network`, `network.IFACE`) merge key by key; lists are replaced whole;
//!   `key: ~` removes a lower layer's value;
//! - `token`, `token-file` and `token-sha256` are one choice: setting one in a
//!   higher layer drops the others below; within one file only one may appear;
//! - in `network.IFACE`, `dhcp` drops a lower `address`/`gateway`, and
//!   `address` drops a lower `dhcp`;
//! - the site config is shared by every device of a site, so it may hold keys
//!   of the other role, which are ignored; in `edge.yaml` and on the kernel
//!   command line such a key is an error;
//! - a `vip` means several servers: it needs a shared (postgres/mysql)
//!   datastore unless `cluster-size: 1` says this is the only server; a
//!   `cluster-size` above 1 needs one too.
//!
//! Owns: merge order, cross-field rules, diagnostics. Must not do IO (callers
//! pass bytes), and must never put a secret into a diagnostic.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::edge::{
    AGENT_KEYS, EdgeFile, HostAddress, InterfaceSection, List, Role, ServerUrl, Text, server_keys,
};
use crate::endpoint::{Backend, TlsFiles};
use crate::server;
use crate::token::Token;
use crate::tree::{self, Entry, Layer, Loc, Node, Seg, Source, TreeError, Value, dotted};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub key: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(loc: &Loc, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, loc, key, message)
    }

    pub fn warning(loc: &Loc, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, loc, key, message)
    }

    fn new(
        severity: Severity,
        loc: &Loc,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            file: loc.source.name.clone(),
            line: loc.line,
            column: loc.column,
            key: key.into(),
            message: message.into(),
        }
    }

    /// A problem not tied to a key (a missing file, a partition).
    pub fn general(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.into(),
            line: 0,
            column: 0,
            key: String::new(),
            message: message.into(),
        }
    }

    fn from_tree(e: TreeError, fallback: &Loc) -> Self {
        let loc = e.loc.unwrap_or_else(|| fallback.clone());
        Self::error(&loc, dotted(&e.path), e.message)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error of a configuration, as one error value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render_list(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

fn render_list(d: &[Diagnostic]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One input layer: a YAML file's bytes or a kernel command line.
#[derive(Debug, Clone)]
pub struct Input {
    pub source: Arc<Source>,
    pub content: Content,
}

#[derive(Clone)]
pub enum Content {
    Yaml(Vec<u8>),
    Cmdline(String),
}

/// The content may hold the token: never shown.
impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Yaml(b) => write!(f, "Yaml(<{} bytes>)", b.len()),
            Self::Cmdline(c) => write!(f, "Cmdline(<{} bytes>)", c.len()),
        }
    }
}

impl Input {
    pub fn yaml(name: impl Into<String>, layer: Layer, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            source: Source::new(name, layer),
            content: Content::Yaml(bytes.into()),
        }
    }

    pub fn cmdline(cmdline: impl Into<String>) -> Self {
        Self {
            source: Source::new("kernel command line", Layer::Cmdline),
            content: Content::Cmdline(cmdline.into()),
        }
    }
}

/// A layer as parsed: its tree (bad entries removed) and original text.
#[derive(Debug, Clone)]
pub struct ParsedLayer {
    pub source: Arc<Source>,
    pub tree: Option<Node>,
    /// The decoded text (YAML layers), for the token scrub. It may hold the
    /// token: `Debug` prints it redacted.
    pub text: Option<crate::secret::Secret<String>>,
}

/// Where the token comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    None,
    /// Written in a layer (`token:`); `layer` says which, for the scrub.
    Inline {
        token: Token,
        layer: Layer,
        file: String,
    },
    /// `token-file:` on the device.
    File(PathBuf),
    /// `token-sha256:`: moved to the data partition by an earlier boot.
    Moved {
        sha256: String,
        loc: String,
    },
}

/// How an interface gets its address.
#[derive(Debug, Clone, PartialEq)]
pub enum Addressing {
    Dhcp,
    Static {
        address: HostAddress,
        gateway: Option<IpAddr>,
    },
}

/// One interface to bring up.
#[derive(Debug, Clone, PartialEq)]
pub struct InterfacePlan {
    pub name: vrrp::InterfaceName,
    pub addressing: Addressing,
    pub dns: Vec<IpAddr>,
}

/// The network to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkPlan {
    /// No `network` key: DHCP on every interface that is not loopback.
    DhcpAll,
    Interfaces(Vec<InterfacePlan>),
}

/// A merged, validated configuration.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub role: Role,
    /// The merged file, keys of the other role dropped, `server` filled in
    /// for an agent from the vip when not given.
    pub file: EdgeFile,
    pub token: TokenSource,
    pub network: NetworkPlan,
    /// The VRRP instance for a server with a `vip`.
    pub vip: Option<vrrp::VrrpConfig>,
    pub cluster_size: u16,
    /// The merged tree: where each key came from.
    pub tree: Node,
}

impl EdgeConfig {
    /// An error about a key, located where the winning layer set it (or
    /// its nearest parent): for problems found at boot, such as a missing
    /// token file.
    pub fn diagnostic(&self, path: &[&str], message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(locate(&self.tree, path), path.join("."), message)
    }

    pub fn hostname(&self) -> Option<&str> {
        self.file.hostname.as_ref().map(|h| h.0.0.as_str())
    }

    /// The external datastore, if one is configured (not SQLite).
    pub fn external_datastore(&self) -> bool {
        is_external(&self.file)
    }
}

/// The result of loading layers.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Option<EdgeConfig>,
    /// Errors and warnings, errors first, in file order.
    pub diagnostics: Vec<Diagnostic>,
    pub layers: Vec<ParsedLayer>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    /// The config, or every error.
    pub fn into_result(self) -> Result<EdgeConfig, Diagnostics> {
        match self.config {
            Some(c) if !self.diagnostics.iter().any(Diagnostic::is_error) => Ok(c),
            _ => Err(Diagnostics(
                self.diagnostics
                    .into_iter()
                    .filter(|d| d.is_error())
                    .collect(),
            )),
        }
    }
}

/// Parses, merges (lowest layer first) and validates.
pub fn load(inputs: &[Input]) -> Loaded {
    let mut diags = Vec::new();
    let mut failed: Vec<Vec<Seg>> = Vec::new();
    let mut layers = Vec::new();
    for input in inputs {
        let (layer, d, f) = parse_layer(input);
        diags.extend(d);
        failed.extend(f);
        layers.push(layer);
    }
    let top = inputs
        .iter()
        .rev()
        .find(|i| i.source.layer == Layer::Device)
        .or(inputs.last())
        .map(|i| i.source.clone())
        .unwrap_or_else(|| Source::new("(no configuration)", Layer::Device));
    let mut merged = Node::map(Vec::new(), Loc::start_of(&top));
    for layer in &layers {
        if let Some(tree) = &layer.tree {
            merge_into(&mut merged, tree.clone(), &[]);
        }
    }
    let role_failed = failed
        .iter()
        .any(|p| p.first() == Some(&Seg::Key("role".into())));
    let (config, d) = resolve(merged, role_failed);
    // A key that already failed to parse is left out of the cross-field
    // rules; drop what they then say about it (it would be a consequence).
    let failed: Vec<String> = failed.iter().map(|p| dotted(&key_prefix(p))).collect();
    diags.extend(d.into_iter().filter(|d| {
        !failed.iter().any(|f| {
            !d.key.is_empty() && (related(&d.key, f) || related(f, &d.key)) && d.is_error()
        })
    }));
    // A YAML alias can copy a secret into another key, whose error would
    // quote it: no message shows a secret's value, wherever it came from.
    let secrets: Vec<String> = layers
        .iter()
        .filter_map(|l| l.tree.as_ref())
        .flat_map(|t| {
            ["token", "datastore-endpoint"]
                .map(|k| t.find(&[k]).and_then(|e| e.value.text()).map(str::to_owned))
        })
        .flatten()
        .filter(|s| s.len() >= 4)
        .collect();
    for d in &mut diags {
        d.message = tree::redact_with(&d.message, &secrets);
    }
    let has_errors = diags.iter().any(Diagnostic::is_error);
    diags.sort_by_key(|d| d.severity);
    Loaded {
        config: if has_errors { None } else { config },
        diagnostics: diags,
        layers,
    }
}

fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || a.starts_with(&format!("{b}["))
}

fn key_prefix(path: &[Seg]) -> Vec<Seg> {
    let end = path
        .iter()
        .rposition(|s| matches!(s, Seg::Key(_)))
        .map_or(0, |i| i + 1);
    path[..end].to_vec()
}

/// Parses one layer, checks its keys and values, and removes the entries
/// that failed (their errors are reported) so the rest can still be checked.
fn parse_layer(input: &Input) -> (ParsedLayer, Vec<Diagnostic>, Vec<Vec<Seg>>) {
    let start = Loc::start_of(&input.source);
    let mut diags = Vec::new();
    let (tree, text) = match &input.content {
        Content::Yaml(bytes) => {
            match tree::decode(bytes, &input.source).and_then(|text| {
                let t = tree::parse_yaml(&text, &input.source)?;
                Ok((t, text))
            }) {
                Ok((t, text)) => (Some(t), Some(text)),
                Err(e) => {
                    diags.push(Diagnostic::from_tree(e, &start));
                    (None, None)
                }
            }
        }
        Content::Cmdline(line) => match tree::parse_cmdline(line, &input.source) {
            Ok(t) => (Some(t), None),
            Err(errors) => {
                diags.extend(errors.into_iter().map(|e| Diagnostic::from_tree(e, &start)));
                (None, None)
            }
        },
    };
    let mut failed = Vec::new();
    let tree = tree.and_then(|mut t| {
        if !matches!(t.value, Value::Map(_)) {
            diags.push(Diagnostic::error(
                &t.loc,
                "",
                "the file must be a mapping of keys (key: value), e.g. `role: server`",
            ));
            return None;
        }
        for (e, path) in probe::<EdgeFile>(&t) {
            diags.push(Diagnostic::from_tree(e, &start));
            failed.push(path);
        }
        for path in &failed {
            remove(&mut t, &key_prefix(path));
        }
        diags.extend(layer_rules(&t, input.source.layer));
        Some(t)
    });
    (
        ParsedLayer {
            source: input.source.clone(),
            tree,
            text: text.map(crate::secret::Secret::new),
        },
        diags,
        failed,
    )
}

/// Finds every failing value of a tree: tries the whole tree, then each
/// entry alone (recursively), so one run reports all bad keys, each with its
/// own location.
fn probe<T: serde::de::DeserializeOwned>(root: &Node) -> Vec<(TreeError, Vec<Seg>)> {
    if tree::from_node::<T>(root).is_ok() {
        return Vec::new();
    }
    let mut out = Vec::new();
    descend::<T>(&|n| n, root, &mut Vec::new(), &mut out);
    out
}

fn descend<T: serde::de::DeserializeOwned>(
    wrap: &dyn Fn(Node) -> Node,
    node: &Node,
    path: &mut Vec<Seg>,
    out: &mut Vec<(TreeError, Vec<Seg>)>,
) {
    let err = match tree::from_node::<T>(&wrap(node.clone())) {
        Ok(_) => return,
        Err(e) => e,
    };
    let before = out.len();
    match &node.value {
        Value::Map(entries) => {
            for entry in entries {
                let single = |n: Node| {
                    wrap(Node::map(
                        vec![Entry {
                            key: entry.key.clone(),
                            key_loc: entry.key_loc.clone(),
                            value: n,
                        }],
                        node.loc.clone(),
                    ))
                };
                path.push(Seg::Key(entry.key.clone()));
                descend::<T>(&single, &entry.value, path, out);
                path.pop();
            }
        }
        Value::Seq(items) if items.len() > 1 => {
            for (i, item) in items.iter().enumerate() {
                let single = |n: Node| {
                    wrap(Node {
                        value: Value::Seq(vec![n]),
                        loc: node.loc.clone(),
                    })
                };
                path.push(Seg::Index(i));
                descend::<T>(&single, item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
    if out.len() == before {
        // The error's path, with list indexes from `path` (the wrapped
        // document has the same shape, except that each list holds one item).
        // It may end above `path`: a bad key fails every value under it.
        let full: Vec<Seg> = err
            .path
            .iter()
            .enumerate()
            .map(|(i, s)| path.get(i).cloned().unwrap_or_else(|| s.clone()))
            .collect();
        let duplicate = out.iter().any(|(e, _)| {
            e.message == err.message
                && e.loc.as_ref().map(|l| (l.line, l.column))
                    == err.loc.as_ref().map(|l| (l.line, l.column))
        });
        if !duplicate {
            let e = TreeError {
                path: full.clone(),
                ..err
            };
            out.push((e, full));
        }
    }
}

/// Removes the entry at a key path.
fn remove(node: &mut Node, path: &[Seg]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Seg::Key(k) = first else {
        return;
    };
    if let Value::Map(entries) = &mut node.value {
        if rest.is_empty() {
            entries.retain(|e| &e.key != k);
        } else if let Some(e) = entries.iter_mut().find(|e| &e.key == k) {
            remove(&mut e.value, rest);
        }
    }
}

const TOKEN_KEYS: &[&str] = &["token", "token-file", "token-sha256"];

/// Rules about one file on its own.
fn layer_rules(tree: &Node, layer: Layer) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let present: Vec<&Entry> = tree
        .entries()
        .iter()
        .filter(|e| TOKEN_KEYS.contains(&e.key.as_str()) && !e.value.is_null())
        .collect();
    if present.len() > 1 {
        let names: Vec<&str> = present.iter().map(|e| e.key.as_str()).collect();
        let second = present[1];
        let message = if names.contains(&"token-sha256") {
            "token-sha256 is what edged init left in place of the token it moved to the data \
             partition; to set a new token, replace the token-sha256 line with token"
                .to_owned()
        } else {
            format!(
                "{} are exclusive: give the token once, inline or as a file",
                names.join(" and ")
            )
        };
        d.push(Diagnostic::error(
            &second.key_loc,
            second.key.clone(),
            message,
        ));
    }
    if layer != Layer::Device
        && let Some(e) = tree.find(&["token-sha256"])
    {
        d.push(Diagnostic::error(
            &e.key_loc,
            "token-sha256",
            "token-sha256 is written by edged init into edge.yaml on the boot partition; \
             it cannot come from the site config or the kernel command line",
        ));
    }
    if layer == Layer::Cmdline
        && let Some(e) = tree.find(&["token"])
    {
        d.push(Diagnostic::warning(
            &e.key_loc,
            "token",
            "a token on the kernel command line is readable by every process (/proc/cmdline) \
             and cannot be scrubbed; prefer edge.yaml, where edged init moves it to the data partition",
        ));
    }
    d
}

/// Keys a higher layer's `key` removes from a lower layer, at `path`.
fn displaced(path: &[String], key: &str) -> &'static [&'static str] {
    match (path.len(), path.first().map(String::as_str), key) {
        (0, _, "token") => &["token-file", "token-sha256"],
        (0, _, "token-file") => &["token", "token-sha256"],
        (0, _, "token-sha256") => &["token", "token-file"],
        (2, Some("network"), "dhcp") => &["address", "gateway"],
        (2, Some("network"), "address") => &["dhcp"],
        _ => &[],
    }
}

/// Merges `upper` over `lower`.
fn merge_into(lower: &mut Node, upper: Node, path: &[String]) {
    let (Value::Map(low), Value::Map(_)) = (&mut lower.value, &upper.value) else {
        *lower = upper;
        return;
    };
    let Value::Map(up) = upper.value else {
        return;
    };
    for entry in up {
        let drop = displaced(path, &entry.key);
        low.retain(|e| !drop.contains(&e.key.as_str()));
        match low.iter_mut().find(|e| e.key == entry.key) {
            Some(existing)
                if matches!(existing.value.value, Value::Map(_))
                    && matches!(entry.value.value, Value::Map(_)) =>
            {
                existing.key_loc = entry.key_loc;
                let mut p = path.to_vec();
                p.push(entry.key.clone());
                merge_into(&mut existing.value, entry.value, &p);
            }
            Some(existing) => *existing = entry,
            None => low.push(entry),
        }
    }
}

fn is_external(f: &EdgeFile) -> bool {
    f.datastore_endpoint
        .as_ref()
        .is_some_and(|d| d.0.backend() != Backend::Sqlite)
}

/// Where a key is (its value, else its key), or the nearest parent's key,
/// else the start of the merged configuration.
fn locate<'a>(tree: &'a Node, path: &[&str]) -> &'a Loc {
    for end in (1..=path.len()).rev() {
        if let Some(e) = tree.find(&path[..end]) {
            return if end == path.len() && !matches!(e.value.value, Value::Map(_)) {
                &e.value.loc
            } else {
                &e.key_loc
            };
        }
    }
    &tree.loc
}

/// The key's own position (for "this key is not allowed" errors).
fn key_loc<'a>(tree: &'a Node, path: &[&str]) -> &'a Loc {
    tree.find(path).map_or(&tree.loc, |e| &e.key_loc)
}

/// The first place in an entry that a non-site layer set.
fn device_loc(e: &Entry) -> Option<Loc> {
    if e.key_loc.source.layer != Layer::Site {
        return Some(e.key_loc.clone());
    }
    let mut found = None;
    e.value.walk(&mut |n| {
        if found.is_none() && n.loc.source.layer != Layer::Site {
            found = Some(n.loc.clone());
        }
    });
    found
}

struct Check<'a> {
    tree: &'a Node,
    diags: Vec<Diagnostic>,
}

impl Check<'_> {
    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let loc = locate(self.tree, path).clone();
        self.diags
            .push(Diagnostic::error(&loc, path.join("."), message));
    }

    fn warn(&mut self, path: &[&str], message: impl Into<String>) {
        let loc = locate(self.tree, path).clone();
        self.diags
            .push(Diagnostic::warning(&loc, path.join("."), message));
    }
}

fn list<T: Clone>(l: &Option<List<Text<T>>>) -> Vec<T> {
    l.as_ref()
        .map(|l| l.0.iter().map(|t| t.0.clone()).collect())
        .unwrap_or_default()
}

/// Role filtering and the cross-field rules, on the merged tree.
fn resolve(mut merged: Node, role_failed: bool) -> (Option<EdgeConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let role_entry = merged.find(&["role"]).cloned();
    let role = role_entry
        .as_ref()
        .and_then(|e| e.value.text())
        .and_then(|t| <Role as crate::edge::Leaf>::parse(t).ok())
        .unwrap_or_default();
    let (other, why) = match role {
        Role::Server => (
            AGENT_KEYS
                .iter()
                .map(|k| (*k).to_owned())
                .collect::<Vec<_>>(),
            "`server` is where an agent registers; servers join through the shared \
             datastore-endpoint instead. Remove it, or set role: agent",
        ),
        Role::Agent => (
            server_keys(),
            "is a server setting; this device is an agent (it gets the cluster's settings \
             from the server). Remove it, or set role: server",
        ),
    };
    // An agent registers through the site's vip unless told otherwise: read
    // it before the site's server keys are dropped below.
    let vip_url = (role == Role::Agent && merged.find(&["server"]).is_none())
        .then(|| {
            let vip = merged.find(&["vip", "address"])?.value.text()?;
            let vip = <vrrp::VirtualIp as crate::edge::Leaf>::parse(vip).ok()?;
            let port = merged
                .find(&["https-listen-port"])
                .and_then(|e| e.value.text())
                .and_then(|p| p.parse().ok())
                .unwrap_or(6443);
            ServerUrl::for_vip(vip.addr(), port)
        })
        .flatten();
    let role_at = role_entry
        .as_ref()
        .map(|e| format!(" (role: {} at {})", role.as_str(), e.key_loc))
        .unwrap_or_default();
    // With a misspelt role, which keys belong is unknown: the role error says it.
    if let (Value::Map(entries), false) = (&mut merged.value, role_failed) {
        entries.retain(|e| {
            if !other.contains(&e.key) {
                return true;
            }
            if let Some(loc) = device_loc(e) {
                let message = if role == Role::Agent {
                    format!("{} {why}{role_at}", e.key)
                } else {
                    why.to_owned()
                };
                diags.push(Diagnostic::error(&loc, e.key.clone(), message));
            }
            false
        });
    }
    let mut file: EdgeFile = match tree::from_node(&merged) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic::from_tree(e, &merged.loc));
            return (None, diags);
        }
    };
    let mut c = Check {
        tree: &merged,
        diags,
    };

    // Token.
    let token = if let Some(t) = &file.token {
        let e = merged.find(&["token"]);
        let src = e.map(|e| e.value.loc.source.clone());
        if t.0.as_written().expose().len() < 16 {
            c.warn(
                &["token"],
                "the token is shorter than 16 characters; the cluster's bootstrap data is \
                 encrypted with a key derived from it: use a long random string",
            );
        }
        TokenSource::Inline {
            token: t.0.clone(),
            layer: src.as_ref().map_or(Layer::Device, |s| s.layer),
            file: src.map(|s| s.name.clone()).unwrap_or_default(),
        }
    } else if let Some(f) = &file.token_file {
        TokenSource::File(f.0.0.clone())
    } else if let Some(h) = &file.token_sha256 {
        TokenSource::Moved {
            sha256: h.0.0.clone(),
            loc: locate(&merged, &["token-sha256"]).to_string(),
        }
    } else {
        TokenSource::None
    };

    let external = is_external(&file);
    match role {
        Role::Agent => {
            if file.server.is_none() {
                match vip_url {
                    Some(u) => file.server = Some(Text(u)),
                    None => c.error(
                        &["role"],
                        "an agent needs `server: https://ADDRESS:6443` (the servers' virtual IP) \
                         to register, or a vip in the site config",
                    ),
                }
            }
            if token == TokenSource::None {
                c.error(
                    &["role"],
                    "an agent needs the cluster token (token or token-file) to register",
                );
            }
            // Server keys from the site config are the site's, not this device's.
            file.vip = None;
            file.datastore_endpoint = None;
        }
        Role::Server => {
            if external && token == TokenSource::None {
                c.error(
                    &["datastore-endpoint"],
                    "servers sharing a datastore need the cluster token (token or token-file), \
                     the same on every server: it encrypts the shared certificates",
                );
            }
            let tls_keys = [
                ("datastore-cafile", &file.datastore_cafile),
                ("datastore-certfile", &file.datastore_certfile),
                ("datastore-keyfile", &file.datastore_keyfile),
            ];
            for (key, v) in tls_keys {
                if v.is_some() && !external {
                    c.error(
                        &[key],
                        "the datastore TLS files apply to a postgres:// or mysql:// \
                         datastore-endpoint only",
                    );
                }
            }
            if let (Some(d), true) = (&file.datastore_endpoint, external) {
                let tls = TlsFiles {
                    ca_file: file.datastore_cafile.as_ref().map(|p| p.0.0.clone()),
                    cert_file: file.datastore_certfile.as_ref().map(|p| p.0.0.clone()),
                    key_file: file.datastore_keyfile.as_ref().map(|p| p.0.0.clone()),
                };
                if let Err(e) = d.0.check_tls(tls) {
                    c.error(&["datastore-endpoint"], e);
                }
            }
        }
    }

    // Cluster size and the VIP.
    let size = file.cluster_size.as_ref().map(|s| s.0.0);
    let cluster_size = size.unwrap_or(if file.vip.is_some() { 2 } else { 1 });
    if role == Role::Server {
        if let Some(n) = size.filter(|n| *n > 1)
            && !external
        {
            c.error(
                &["cluster-size"],
                format!(
                    "{n} servers need a shared datastore-endpoint (postgres:// or mysql://): \
                     with the embedded SQLite each server would be its own cluster"
                ),
            );
        }
        if file.vip.is_some() && !external && size != Some(1) {
            c.error(
                &["vip"],
                "a vip is shared by several servers, and several servers need a shared \
                 datastore-endpoint (postgres:// or mysql://); with the embedded SQLite each \
                 server would be its own cluster. Set datastore-endpoint, or `cluster-size: 1` \
                 if this is the only server",
            );
        }
        if let Some(n) = size.filter(|n| *n > 1)
            && file.vip.is_none()
        {
            c.warn(
                &["cluster-size"],
                format!(
                    "{n} servers without a vip: agents register with one fixed server and \
                     lose it when that server fails; a vip gives them an address that moves"
                ),
            );
        }
    }
    let network = check_network(&mut c, &file);
    let vip = if role == Role::Server {
        check_vip(&mut c, &file, &network)
    } else {
        None
    };

    // Critical flags, as edged server checks them (defaults included).
    let cluster_cidr = file
        .cluster_cidr
        .as_ref()
        .map_or_else(server::default_cluster_cidr, |t| t.0);
    let service_cidr = file
        .service_cidr
        .as_ref()
        .map_or_else(server::default_service_cidr, |t| t.0);
    if role == Role::Server {
        let dns = file
            .cluster_dns
            .as_ref()
            .map_or(server::DEFAULT_CLUSTER_DNS, |t| t.0);
        for (key, message) in server::network_errors(cluster_cidr, service_cidr, dns) {
            c.error(&[key], message);
        }
        if let Some(v) = &vip {
            for (name, net) in [
                ("cluster-cidr", cluster_cidr),
                ("service-cidr", service_cidr),
            ] {
                if net.contains(IpAddr::V4(v.vip.addr())) {
                    c.error(
                        &["vip", "address"],
                        format!("the VIP {} lies in {name} {net}", v.vip),
                    );
                }
            }
        }
    }
    if let NetworkPlan::Interfaces(ifaces) = &network {
        for i in ifaces {
            if let Addressing::Static { address, .. } = &i.addressing {
                for (name, net) in [
                    ("cluster-cidr", cluster_cidr),
                    ("service-cidr", service_cidr),
                ] {
                    if net.contains(address.ip) {
                        c.error(
                            &["network", i.name.as_str(), "address"],
                            format!(
                                "{address} lies in {name} {net}: pods or services would shadow \
                                 the LAN; pick another {name} (on every server) or another address"
                            ),
                        );
                    }
                }
            }
        }
    }

    // Duplicate label keys.
    let mut seen = BTreeSet::new();
    for l in list(&file.node_label) {
        if !seen.insert(l.key.clone()) {
            c.error(
                &["node-label"],
                format!("the label key {:?} is given twice", l.key),
            );
        }
    }

    let diags = c.diags;
    let config = EdgeConfig {
        role,
        file,
        token,
        network,
        vip,
        cluster_size,
        tree: merged,
    };
    (Some(config), diags)
}

fn check_network(c: &mut Check<'_>, file: &EdgeFile) -> NetworkPlan {
    let Some(ifaces) = &file.network else {
        return NetworkPlan::DhcpAll;
    };
    let mut plans = Vec::new();
    let mut gateway_on: Option<String> = None;
    for (name, s) in &ifaces.0 {
        let n = name.0.as_str();
        let InterfaceSection {
            dhcp,
            address,
            gateway,
            dns,
        } = s;
        let dns: Vec<IpAddr> = list(dns);
        let addressing = match (dhcp, address) {
            (Some(true), Some(_)) => {
                c.error(
                    &["network", n, "address"],
                    "a static address and `dhcp: true` exclude each other; remove one",
                );
                continue;
            }
            (Some(true), None) => {
                if gateway.is_some() {
                    c.error(
                        &["network", n, "gateway"],
                        "with dhcp the gateway comes from the DHCP server; remove gateway, \
                         or use a static address",
                    );
                }
                Addressing::Dhcp
            }
            (_, Some(a)) => {
                let gw = gateway.as_ref().map(|g| g.0);
                if let Some(g) = gw {
                    if g == a.0.ip {
                        c.error(
                            &["network", n, "gateway"],
                            format!("the gateway {g} is this interface's own address"),
                        );
                    } else if !a.0.contains(g) {
                        c.error(
                            &["network", n, "gateway"],
                            format!(
                                "the gateway {g} is outside the interface's subnet {} \
                                 (from address {})",
                                a.0.network(),
                                a.0
                            ),
                        );
                    }
                    if let Some(first) = &gateway_on {
                        c.error(
                            &["network", n, "gateway"],
                            format!(
                                "only one default gateway: network.{first}.gateway is already set"
                            ),
                        );
                    } else {
                        gateway_on = Some(n.to_owned());
                    }
                }
                Addressing::Static {
                    address: a.0,
                    gateway: gw,
                }
            }
            (_, None) => {
                let key = key_loc(c.tree, &["network", n]).clone();
                c.diags.push(Diagnostic::error(
                    &key,
                    format!("network.{n}"),
                    "give the interface `dhcp: true` or a static `address: A.B.C.D/PREFIX`",
                ));
                continue;
            }
        };
        plans.push(InterfacePlan {
            name: name.0.clone(),
            addressing,
            dns,
        });
    }
    NetworkPlan::Interfaces(plans)
}

fn check_vip(
    c: &mut Check<'_>,
    file: &EdgeFile,
    network: &NetworkPlan,
) -> Option<vrrp::VrrpConfig> {
    let v = file.vip.as_ref()?;
    let missing: Vec<&str> = [
        ("address", v.address.is_none()),
        ("interface", v.interface.is_none()),
        ("vrrp-id", v.vrrp_id.is_none()),
    ]
    .into_iter()
    .filter_map(|(k, m)| m.then_some(k))
    .collect();
    if !missing.is_empty() {
        c.error(
            &["vip"],
            format!(
                "the vip section needs {} (e.g. address: 10.0.0.100, interface: eth0, vrrp-id: 51; \
                 vrrp-id must be the same on every server)",
                missing.join(", ")
            ),
        );
        return None;
    }
    let (Some(address), Some(interface), Some(vrid)) = (&v.address, &v.interface, &v.vrrp_id)
    else {
        return None;
    };
    let mut cfg = vrrp::VrrpConfig::new(interface.0.clone(), address.0, vrid.0);
    if let Some(p) = &v.priority {
        cfg.priority = p.0;
    }
    if let Some(a) = &v.advert_interval {
        cfg.advert_interval = a.0;
    }
    cfg.unicast_peers = list(&v.unicast_peers);
    if let Some(m) = &v.checksum {
        cfg.checksum = m.0;
    }
    let vip_ip = IpAddr::V4(address.0.addr());
    if let NetworkPlan::Interfaces(plans) = network {
        match plans.iter().find(|p| p.name == interface.0) {
            None => c.error(
                &["vip", "interface"],
                format!(
                    "{} is not in network: it would stay down; add network.{}",
                    interface.0, interface.0
                ),
            ),
            Some(InterfacePlan {
                addressing: Addressing::Static { address: own, .. },
                ..
            }) => {
                if own.ip == vip_ip {
                    c.error(
                        &["vip", "address"],
                        format!(
                            "the VIP {vip_ip} is network.{}.address itself; the VIP must be an \
                             unused address of the subnet",
                            interface.0
                        ),
                    );
                } else if !own.contains(vip_ip) {
                    c.error(
                        &["vip", "address"],
                        format!(
                            "the VIP {vip_ip} is outside {}'s subnet {} (network.{}.address {own}); \
                             use an unused address of that subnet",
                            interface.0,
                            own.network(),
                            interface.0
                        ),
                    );
                }
                for p in &cfg.unicast_peers {
                    if IpAddr::V4(*p) == own.ip {
                        c.error(
                            &["vip", "unicast-peers"],
                            format!("{p} is this device's own address; list the other servers"),
                        );
                    }
                }
            }
            Some(_) => {}
        }
    }
    if let Err(e) = cfg.validate() {
        let key = match e.field() {
            "unicast-peers" => "unicast-peers",
            _ => "address",
        };
        c.error(&["vip", key], crate::edge::clean("", e.to_string()));
    }
    Some(cfg)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
