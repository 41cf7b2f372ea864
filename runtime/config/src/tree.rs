//! Located configuration trees: YAML documents and kernel command lines parsed
//! into one tree type whose every key and value knows its file, line and
//! column, plus a serde `Deserializer` over that tree whose errors carry the
//! location and key path of the value at fault.
//!
//! Owns: turning text into [`Node`]s (through serde-saphyr, with its spans),
//! and the deserializer the typed model is read with. Must not know the
//! model's keys or do IO; errors never quote a whole line of the input (a
//! neighbouring line may hold a secret).

use std::fmt;
use std::sync::Arc;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde_saphyr::Spanned;

/// Files larger than this are refused before parsing: a config is a few KiB.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Which layer of the configuration a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// The site config baked into the image: shared by every device of a
    /// site, so it may hold keys of both roles.
    Site,
    /// A device's own file (`edge.yaml` on the boot partition).
    Device,
    /// `edge.*` arguments on the kernel command line.
    Cmdline,
}

/// Where configuration text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What an operator recognises: a path, or "kernel command line".
    pub name: String,
    pub layer: Layer,
}

impl Source {
    pub fn new(name: impl Into<String>, layer: Layer) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            layer,
        })
    }
}

/// A position in a source: 1-based line and column (characters), and the
/// byte range of the item when the parser knows it.
#[derive(Debug, Clone)]
pub struct Loc {
    pub source: Arc<Source>,
    pub line: u32,
    pub column: u32,
    pub bytes: Option<(usize, usize)>,
}

impl Loc {
    /// The start of a source (for problems without a better position).
    pub fn start_of(source: &Arc<Source>) -> Self {
        Self {
            source: source.clone(),
            line: 1,
            column: 1,
            bytes: None,
        }
    }

    fn from_saphyr(source: &Arc<Source>, l: &serde_saphyr::Location) -> Self {
        let span = l.span();
        let bytes = match (span.byte_offset(), span.byte_len()) {
            (Some(o), Some(n)) => usize::try_from(o)
                .ok()
                .zip(usize::try_from(n).ok())
                .map(|(o, n)| (o, o + n)),
            _ => None,
        };
        Self {
            source: source.clone(),
            line: u32::try_from(l.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(l.column()).unwrap_or(u32::MAX).max(1),
            bytes,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source.name, self.line, self.column)
    }
}

/// A scalar as YAML typed it, with its text. The text is what a string-typed
/// key receives, so `hostname: no` stays the string "no" and `mode: 0600`
/// stays "0600", whatever YAML 1.1 would make of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
}

/// A tree node.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub loc: Loc,
}

/// A tree node's value.
#[derive(Debug, Clone)]
pub enum Value {
    Scalar { kind: Scalar, text: String },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Clone)]
pub struct Entry {
    pub key: String,
    pub key_loc: Loc,
    pub value: Node,
}

/// Keys whose values are secret: `Debug` of a tree never shows them.
const SECRET_KEYS: &[&str] = &["token", "datastore-endpoint"];

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("key", &self.key).field("key_loc", &self.key_loc);
        if SECRET_KEYS.contains(&self.key.as_str()) {
            d.field("value", &"<redacted>");
        } else {
            d.field("value", &self.value);
        }
        d.finish()
    }
}

impl Node {
    pub fn map(entries: Vec<Entry>, loc: Loc) -> Self {
        Self {
            value: Value::Map(entries),
            loc,
        }
    }

    pub fn string(text: impl Into<String>, loc: Loc) -> Self {
        Self {
            value: Value::Scalar {
                kind: Scalar::Str,
                text: text.into(),
            },
            loc,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self.value,
            Value::Scalar {
                kind: Scalar::Null,
                ..
            }
        )
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    /// The entry at a key path, e.g. `["vip", "address"]`.
    pub fn find(&self, path: &[&str]) -> Option<&Entry> {
        let (first, rest) = path.split_first()?;
        let entry = self.entries().iter().find(|e| e.key == *first)?;
        if rest.is_empty() {
            Some(entry)
        } else {
            entry.value.find(rest)
        }
    }

    /// The scalar text of the node, if it is a non-null scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar {
                kind: Scalar::Null, ..
            } => None,
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Every node of the subtree, itself first.
    pub fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match &self.value {
            Value::Seq(items) => items.iter().for_each(|n| n.walk(f)),
            Value::Map(entries) => entries.iter().for_each(|e| e.value.walk(f)),
            Value::Scalar { .. } => {}
        }
    }

    fn describe(&self) -> Unexpected<'_> {
        match &self.value {
            Value::Scalar { kind, text } => match kind {
                Scalar::Null => Unexpected::Unit,
                Scalar::Bool(b) => Unexpected::Bool(*b),
                Scalar::Int(i) => Unexpected::Signed(*i),
                Scalar::Uint(u) => Unexpected::Unsigned(*u),
                Scalar::Float(f) => Unexpected::Float(*f),
                Scalar::Str => Unexpected::Str(text),
            },
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }
}

/// One step of a key path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path as operators write it: `vip.priority`, `tls-san[1]`.
pub fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// A problem found while reading a tree, located.
#[derive(Debug, Clone)]
pub struct TreeError {
    pub message: String,
    pub loc: Option<Loc>,
    /// The key path of the value at fault (empty: the whole document).
    pub path: Vec<Seg>,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", dotted(&self.path))?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for TreeError {}

impl TreeError {
    pub fn new(message: impl Into<String>, loc: Option<Loc>, path: Vec<Seg>) -> Self {
        Self {
            message: message.into(),
            loc,
            path,
        }
    }

    fn at(mut self, loc: &Loc, path: &[Seg]) -> Self {
        if self.loc.is_none() {
            self.loc = Some(loc.clone());
            self.path = path.to_vec();
        }
        self
    }
}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            loc: None,
            path: Vec::new(),
        }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            Unexpected::Unit => "nothing (an empty value)".to_owned(),
            Unexpected::Seq => "a list".to_owned(),
            Unexpected::Map => "a mapping (nested keys)".to_owned(),
            Unexpected::Str(s) => format!("the text {s:?}"),
            other => other.to_string(),
        };
        de::Error::custom(format_args!("expected {exp}, found {found}"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        de::Error::custom(unknown_key_message(field, expected))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        de::Error::custom(format_args!(
            "unknown value {variant:?}; expected {}",
            expected.join(" or ")
        ))
    }
}

/// Keys that are `edged server` flags but that `edged init` owns on a device.
const INIT_OWNED: &[(&str, &str)] = &[
    (
        "data-dir",
        "edged init keeps the data on the data partition (EDGE-DATA, /var/lib/edge); remove it",
    ),
    (
        "write-kubeconfig",
        "edged init writes the admin kubeconfig to /etc/edge/edge.yaml; remove it",
    ),
    (
        "config",
        "edged init writes the runtime config /etc/edge/config.yaml from this file; remove it",
    ),
];

/// "unknown key", with the closest known key when one is near.
pub fn unknown_key_message(field: &str, expected: &[&str]) -> String {
    if let Some((_, hint)) = INIT_OWNED.iter().find(|(k, _)| *k == field) {
        return format!("{field:?} cannot be set here: {hint}");
    }
    // `vip_interface` or `vipInterface` for `vip-interface`.
    let normalized: String = field
        .chars()
        .flat_map(|c| {
            if c == '_' {
                vec!['-']
            } else if c.is_ascii_uppercase() {
                vec!['-', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect();
    let best = expected
        .iter()
        .map(|k| (edit_distance(&normalized, k), *k))
        .min();
    match best {
        Some((d, k)) if d <= 2.max(k.len() / 4) => {
            format!("unknown key {field:?}; did you mean {k:?}?")
        }
        _ if expected.is_empty() => format!("unknown key {field:?}"),
        _ => format!(
            "unknown key {field:?}; known keys here: {}",
            expected.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------
// YAML text to a tree.

/// What serde-saphyr hands us: any YAML node, each child with its span.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Uint(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(u64::try_from(v).map_or(Raw::Float(v as f64), Raw::Uint))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = a.next_entry()? {
            entries.push(entry);
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> serde::Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

/// The source text of a located item, if the parser gave a byte range.
fn source_slice<'t>(text: &'t str, loc: &Loc) -> Option<&'t str> {
    loc.bytes.and_then(|(a, b)| text.get(a..b))
}

fn convert(text: &str, source: &Arc<Source>, raw: Spanned<Raw>) -> Result<Node, TreeError> {
    let loc = Loc::from_saphyr(source, &raw.referenced);
    let original = || source_slice(text, &loc).map(str::to_owned);
    let value = match raw.value {
        Raw::Null => Value::Scalar {
            kind: Scalar::Null,
            text: original().unwrap_or_default(),
        },
        Raw::Bool(b) => Value::Scalar {
            kind: Scalar::Bool(b),
            text: original().unwrap_or_else(|| b.to_string()),
        },
        Raw::Int(i) => Value::Scalar {
            kind: Scalar::Int(i),
            text: original().unwrap_or_else(|| i.to_string()),
        },
        Raw::Uint(u) => Value::Scalar {
            kind: Scalar::Uint(u),
            text: original().unwrap_or_else(|| u.to_string()),
        },
        Raw::Float(f) => Value::Scalar {
            kind: Scalar::Float(f),
            text: original().unwrap_or_else(|| f.to_string()),
        },
        Raw::Str(s) => Value::Scalar {
            kind: Scalar::Str,
            text: s,
        },
        Raw::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|i| convert(text, source, i))
                .collect::<Result<_, _>>()?,
        ),
        Raw::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key_node = convert(text, source, k)?;
                let key = match &key_node.value {
                    Value::Scalar {
                        kind: Scalar::Str,
                        text,
                    } => text.clone(),
                    // `1: x` or `y: x` (YAML 1.1 makes `y` a boolean): the key as written.
                    Value::Scalar { text, .. } if !text.is_empty() => text.clone(),
                    _ => {
                        return Err(TreeError::new(
                            "a key must be a plain name, not a list, mapping or empty value",
                            Some(key_node.loc),
                            Vec::new(),
                        ));
                    }
                };
                out.push(Entry {
                    key,
                    key_loc: key_node.loc,
                    value: convert(text, source, v)?,
                });
            }
            Value::Map(out)
        }
    };
    Ok(Node { value, loc })
}

/// The parser's message without its own location prefix and snippet.
fn parser_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "line 2 column 1: duplicate mapping key: a, set DuplicateKeyPolicy…"
    let first = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, m)| m),
        None => first,
    };
    first
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(first)
        .split("; use from_str_multiple")
        .next()
        .unwrap_or(first)
        .to_owned()
}

/// Values an error message must not show: what follows one of
/// [`SECRET_KEYS`] and a colon on any line of the text.
fn secret_fragments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        for key in SECRET_KEYS.iter().map(|k| format!("{k}:")) {
            let key = key.as_str();
            let mut rest = line;
            while let Some(i) = rest.find(key) {
                rest = &rest[i + key.len()..];
                let v = rest.trim().trim_matches(['"', '\'']);
                if v.len() >= 4 {
                    out.push(v.to_owned());
                    // Also the part before a comment or a flow separator.
                    if let Some(head) = v.split([' ', ',', '}', ']', '#', '"', '\'']).next()
                        && head.len() >= 4
                    {
                        out.push(head.to_owned());
                    }
                }
            }
        }
    }
    // Longest first, so a value is replaced whole before its head.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Replaces every secret fragment in `message` by `<redacted>`.
pub fn redact_with(message: &str, fragments: &[String]) -> String {
    let mut m = message.to_owned();
    for f in fragments {
        if m.contains(f.as_str()) {
            m = m.replace(f.as_str(), "<redacted>");
        }
    }
    m
}

/// Decodes file bytes as UTF-8 YAML text, refusing what a laptop editor may
/// have produced by mistake (UTF-16, invalid bytes) with a located error.
pub fn decode(bytes: &[u8], source: &Arc<Source>) -> Result<String, TreeError> {
    let at = |line: u32, column: u32, message: String| {
        TreeError::new(
            message,
            Some(Loc {
                source: source.clone(),
                line,
                column,
                bytes: None,
            }),
            Vec::new(),
        )
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(at(
            1,
            1,
            format!(
                "the file is {} bytes; a config file is at most {MAX_FILE_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(at(
            1,
            1,
            "the file is saved as UTF-16; save it as UTF-8 (\"UTF-8\" in the editor's save dialog)"
                .into(),
        ));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let col = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            Err(at(
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(col).unwrap_or(u32::MAX),
                "the file is not valid UTF-8 text; save it as UTF-8".into(),
            ))
        }
    }
}

/// Nesting this deep is never a configuration (edge.yaml needs 4 levels);
/// the limit keeps the recursive parser well inside a 2 MiB thread stack,
/// even in a debug build.
pub const MAX_DEPTH: usize = 16;

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = 50_000;
    budget.max_aliases = 1_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 50_000;
    options.with_snippet = false;
    options
}

/// Parses one YAML document into a located tree. An empty document is an
/// empty mapping. Syntax errors carry the parser's line and column.
pub fn parse_yaml(text: &str, source: &Arc<Source>) -> Result<Node, TreeError> {
    let start = Loc::start_of(source);
    if text.trim().is_empty() {
        return Ok(Node::map(Vec::new(), start));
    }
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options()).map_err(|e| {
        let loc = e
            .location()
            .map(|l| Loc::from_saphyr(source, &l))
            .unwrap_or_else(|| start.clone());
        TreeError::new(
            redact_with(&parser_message(&e), &secret_fragments(text)),
            Some(loc),
            Vec::new(),
        )
    })?;
    let node = convert(text, source, raw)?;
    if node.is_null() {
        return Ok(Node::map(Vec::new(), start));
    }
    Ok(node)
}

// ---------------------------------------------------------------------------
// Kernel command line to a tree.

/// Parses the `edge.*` arguments of a kernel command line into a tree:
/// `edge.vip.priority=90` is `vip: {priority: "90"}`. Values are text (typed
/// keys parse them); a value with commas is a list for list-valued keys.
/// Other arguments are ignored. Double quotes group as the kernel does.
pub fn parse_cmdline(cmdline: &str, source: &Arc<Source>) -> Result<Node, Vec<TreeError>> {
    let mut root = Node::map(Vec::new(), Loc::start_of(source));
    let mut errors = Vec::new();
    for (column, arg) in split_cmdline(cmdline) {
        let Some(rest) = arg.strip_prefix("edge.") else {
            continue;
        };
        let loc = Loc {
            source: source.clone(),
            line: 1,
            column,
            bytes: None,
        };
        let (path, value) = match rest.split_once('=') {
            Some((p, v)) => (p, v.to_owned()),
            // A bare flag, as the kernel allows: `edge.secrets-encryption`.
            None => (rest, "true".to_owned()),
        };
        let parts: Vec<&str> = path.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            errors.push(TreeError::new(
                // The key only: the value may be a token or a password.
                format!(
                    "{:?} is not edge.KEY=VALUE (KEY may be dotted: edge.vip.priority=90)",
                    format!("edge.{path}")
                ),
                Some(loc),
                vec![Seg::Key(path.to_owned())],
            ));
            continue;
        }
        if let Err(e) = insert(&mut root, &parts, Node::string(value, loc.clone()), &loc) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(root)
    } else {
        Err(errors)
    }
}

fn insert(map: &mut Node, path: &[&str], value: Node, loc: &Loc) -> Result<(), TreeError> {
    let Value::Map(entries) = &mut map.value else {
        return Err(TreeError::new(
            "this key is set both as a value and as a section",
            Some(loc.clone()),
            path.iter().map(|p| Seg::Key((*p).to_owned())).collect(),
        ));
    };
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let pos = entries.iter().position(|e| e.key == *first);
    if rest.is_empty() {
        match pos {
            // The last one wins, as for repeated kernel arguments.
            Some(i) => entries[i].value = value,
            None => entries.push(Entry {
                key: (*first).to_owned(),
                key_loc: loc.clone(),
                value,
            }),
        }
        return Ok(());
    }
    let i = match pos {
        Some(i) => i,
        None => {
            entries.push(Entry {
                key: (*first).to_owned(),
                key_loc: loc.clone(),
                value: Node::map(Vec::new(), loc.clone()),
            });
            entries.len() - 1
        }
    };
    insert(&mut entries[i].value, rest, value, loc).map_err(|mut e| {
        e.path = path.iter().map(|p| Seg::Key((*p).to_owned())).collect();
        e
    })
}

/// Splits a command line into arguments with their 1-based column, honouring
/// double quotes as the kernel does (`edge.hostname="a b"`).
pub fn split_cmdline(s: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    let mut quoted = false;
    let mut in_arg = false;
    for (i, c) in s.chars().enumerate() {
        if c == '"' {
            quoted = !quoted;
            if !in_arg {
                in_arg = true;
                start = i;
            }
            continue;
        }
        if c.is_whitespace() && !quoted {
            if in_arg {
                out.push((col(start), std::mem::take(&mut cur)));
                in_arg = false;
            }
            continue;
        }
        if !in_arg {
            in_arg = true;
            start = i;
        }
        cur.push(c);
    }
    if in_arg {
        out.push((col(start), cur));
    }
    out
}

fn col(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------
// The deserializer over a tree.

/// Deserializes `T` from a tree; the error names the location and key path
/// of the innermost value at fault.
pub fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, TreeError> {
    T::deserialize(NodeDe {
        node,
        path: Vec::new(),
    })
}

fn child_path(parent: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut p = parent.to_vec();
    p.push(seg);
    p
}

/// A deserializer for one node at a key path.
struct NodeDe<'a> {
    node: &'a Node,
    path: Vec<Seg>,
}

impl NodeDe<'_> {
    fn locate(&self, e: TreeError) -> TreeError {
        e.at(&self.node.loc, &self.path)
    }

    fn scalar_text(&self) -> Option<&str> {
        match &self.node.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Kernel command-line values are all text; a comma makes a list.
    fn cmdline_list(&self) -> Option<Vec<Node>> {
        let text = self.scalar_text()?;
        (self.node.loc.source.layer == Layer::Cmdline).then(|| {
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Node::string(s, self.node.loc.clone()))
                .collect()
        })
    }

    fn visit_list<'de, V: Visitor<'de>>(
        &self,
        items: &[Node],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        let mut access = SeqDe {
            items: items.iter().enumerate(),
            path: &self.path,
        };
        let v = visitor.visit_seq(&mut access)?;
        Ok(v)
    }
}

macro_rules! number {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
            let r = match &self.node.value {
                Value::Scalar {
                    kind: Scalar::Uint(u),
                    ..
                } => visitor.visit_u64(*u),
                Value::Scalar {
                    kind: Scalar::Int(i),
                    ..
                } => visitor.visit_i64(*i),
                Value::Scalar {
                    kind: Scalar::Str,
                    text,
                } => match text.trim().parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
                },
                _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
            };
            r.map_err(|e| self.locate(e))
        }
    };
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = TreeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Scalar { kind, text } => match kind {
                Scalar::Null => visitor.visit_unit(),
                Scalar::Bool(b) => visitor.visit_bool(*b),
                Scalar::Int(i) => visitor.visit_i64(*i),
                Scalar::Uint(u) => visitor.visit_u64(*u),
                Scalar::Float(f) => visitor.visit_f64(*f),
                Scalar::Str => match self.cmdline_list() {
                    Some(items) if text.contains(',') => self.visit_list(&items, visitor),
                    _ => visitor.visit_str(text),
                },
            },
            Value::Seq(items) => self.visit_list(items, visitor),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Scalar {
                kind: Scalar::Bool(b),
                ..
            } => visitor.visit_bool(*b),
            Value::Scalar {
                kind: Scalar::Str,
                text,
            } => match text.trim() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                _ => Err(de::Error::custom(format_args!(
                    "expected true or false, found the text {text:?}"
                ))),
            },
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    number!(deserialize_u8, visit_u64, u64);
    number!(deserialize_u16, visit_u64, u64);
    number!(deserialize_u32, visit_u64, u64);
    number!(deserialize_u64, visit_u64, u64);
    number!(deserialize_i8, visit_i64, i64);
    number!(deserialize_i16, visit_i64, i64);
    number!(deserialize_i32, visit_i64, i64);
    number!(deserialize_i64, visit_i64, i64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Scalar {
                kind: Scalar::Float(f),
                ..
            } => visitor.visit_f64(*f),
            Value::Scalar {
                kind: Scalar::Uint(u),
                ..
            } => visitor.visit_u64(*u),
            Value::Scalar {
                kind: Scalar::Int(i),
                ..
            } => visitor.visit_i64(*i),
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Scalar {
                kind: Scalar::Null, ..
            } => Err(de::Error::invalid_type(Unexpected::Unit, &visitor)),
            Value::Scalar { text, .. } => visitor.visit_str(text),
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        if self.node.is_null() {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        if self.node.is_null() {
            visitor.visit_unit().map_err(|e| self.locate(e))
        } else {
            Err(self.locate(de::Error::invalid_type(self.node.describe(), &visitor)))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Seq(items) => self.visit_list(items, visitor),
            Value::Scalar {
                kind: Scalar::Str, ..
            } if self.cmdline_list().is_some() => {
                let items = self.cmdline_list().unwrap_or_default();
                self.visit_list(&items, visitor)
            }
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TreeError> {
        let r = match &self.node.value {
            Value::Scalar {
                kind: Scalar::Null, ..
            } => Err(de::Error::invalid_type(Unexpected::Unit, &visitor)),
            Value::Scalar { text, .. } => visitor.visit_enum(UnitVariant(text)),
            _ => Err(de::Error::invalid_type(self.node.describe(), &visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        visitor.visit_unit()
    }
}

struct UnitVariant<'a>(&'a str);

impl<'de> EnumAccess<'de> for UnitVariant<'_> {
    type Error = TreeError;
    type Variant = Self;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), TreeError> {
        let v = seed.deserialize(self.0.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_> {
    type Error = TreeError;
    fn unit_variant(self) -> Result<(), TreeError> {
        Ok(())
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        _seed: S,
    ) -> Result<S::Value, TreeError> {
        Err(de::Error::custom("expected a plain value"))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, TreeError> {
        Err(de::Error::custom("expected a plain value"))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, TreeError> {
        Err(de::Error::custom("expected a plain value"))
    }
}

struct SeqDe<'a, I: Iterator<Item = (usize, &'a Node)>> {
    items: I,
    path: &'a [Seg],
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> SeqAccess<'de> for SeqDe<'a, I> {
    type Error = TreeError;
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, TreeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: child_path(self.path, Seg::Index(i)),
                })
                .map(Some),
        }
    }
}

struct MapDe<'a, I: Iterator<Item = &'a Entry>> {
    entries: I,
    value: Option<&'a Entry>,
    path: &'a [Seg],
}

impl<'de, 'a, I: Iterator<Item = &'a Entry>> MapAccess<'de> for MapDe<'a, I> {
    type Error = TreeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TreeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        seed.deserialize(KeyDe(entry.key.as_str()))
            .map(Some)
            .map_err(|e| {
                e.at(
                    &entry.key_loc,
                    &child_path(self.path, Seg::Key(entry.key.clone())),
                )
            })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, TreeError> {
        let Some(entry) = self.value.take() else {
            return Err(de::Error::custom("value without a key"));
        };
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: child_path(self.path, Seg::Key(entry.key.clone())),
        })
    }
}

/// A mapping key: always text.
struct KeyDe<'a>(&'a str);

impl<'de> Deserializer<'de> for KeyDe<'_> {
    type Error = TreeError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TreeError> {
        visitor.visit_str(self.0)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Arc<Source> {
        Source::new("edge.yaml", Layer::Device)
    }

    #[test]
    fn keys_and_values_know_their_place() {
        let t = parse_yaml("role: server\nvip:\n  address: 10.0.0.100\n", &src()).expect("ok");
        let e = t.find(&["vip", "address"]).expect("found");
        assert_eq!((e.key_loc.line, e.key_loc.column), (3, 3));
        assert_eq!((e.value.loc.line, e.value.loc.column), (3, 12));
        assert_eq!(e.value.text(), Some("10.0.0.100"));
    }

    #[test]
    fn plain_scalars_keep_their_text() {
        let t = parse_yaml("a: no\nb: 0600\nc: 51\nd: \"x\"\n", &src()).expect("ok");
        let text = |k: &str| t.find(&[k]).and_then(|e| e.value.text()).map(str::to_owned);
        assert_eq!(text("a").as_deref(), Some("no"));
        assert_eq!(text("b").as_deref(), Some("0600"));
        assert_eq!(text("c").as_deref(), Some("51"));
        assert_eq!(text("d").as_deref(), Some("x"));
    }

    #[test]
    fn syntax_errors_are_located_and_redacted() {
        let e = parse_yaml("token: hunter2-secret\nrole: [server\n", &src()).expect_err("bad");
        let loc = e.loc.clone().expect("located");
        assert!(loc.line >= 2, "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = parse_yaml("a: 1\na: 2\n", &src()).expect_err("duplicate");
        assert_eq!(e.loc.expect("loc").line, 2);
        assert!(e.message.contains("duplicate"), "{}", e.message);
    }

    #[test]
    fn editors_mistakes_are_named() {
        let e = decode(&[0xFF, 0xFE, b'a', 0], &src()).expect_err("utf16");
        assert!(e.message.contains("UTF-16"));
        let e = decode(b"a: 1\nb: \xff\n", &src()).expect_err("latin1");
        assert_eq!(e.loc.expect("loc").line, 2);
        assert_eq!(decode(b"\xEF\xBB\xBFa: 1", &src()).expect("bom"), "a: 1");
    }

    #[test]
    fn cmdline_arguments_become_a_tree() {
        let s = Source::new("kernel command line", Layer::Cmdline);
        let t = parse_cmdline(
            "console=ttyS0 edge.role=agent edge.vip.priority=90 edge.hostname=\"edge a\" quiet",
            &s,
        )
        .expect("ok");
        assert_eq!(
            t.find(&["role"]).and_then(|e| e.value.text()),
            Some("agent")
        );
        let p = t.find(&["vip", "priority"]).expect("nested");
        assert_eq!(p.value.text(), Some("90"));
        assert_eq!(p.key_loc.column, 31);
        assert_eq!(
            t.find(&["hostname"]).and_then(|e| e.value.text()),
            Some("edge a")
        );
        let e = parse_cmdline("edge..x=1", &s).expect_err("bad");
        assert_eq!(e[0].loc.as_ref().map(|l| l.column), Some(1));
    }

    #[test]
    fn debug_output_hides_secret_values() {
        let t = parse_yaml(
            "token: hunter2-secret\ndatastore-endpoint: postgres://u:pw-secret@h/db\nrole: server\n",
            &src(),
        )
        .expect("ok");
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw-secret"),
            "{shown}"
        );
        assert!(shown.contains("server"), "{shown}");
    }

    #[test]
    fn suggestions_for_typos() {
        let m = unknown_key_message("clustr-cidr", &["cluster-cidr", "cluster-dns"]);
        assert!(m.contains("did you mean \"cluster-cidr\""), "{m}");
        let m = unknown_key_message("vip_interface", &["vip-interface", "vip"]);
        assert!(m.contains("did you mean \"vip-interface\""), "{m}");
        let m = unknown_key_message("data-dir", &["role"]);
        assert!(m.contains("data partition"), "{m}");
    }
}
