//! The layers, checked: no cycle between the top-level modules of any
//! crate under `runtime/` (and the image builder), each layer crate depends
//! only on the crates below it (the image builder only on `edge-config`), and
//! the pure crates build without tokio.
//!
//! The module graph is read from the source as text: a top-level module `m`
//! depends on `n` when code of `m` (outside its trailing `#[cfg(test)]`
//! module, and outside comments) names `crate::n` (or, in a file directly
//! under `src/`, `super::n`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The layer crates, bottom up, with the Edgeplane crates each may use.
const LAYERS: &[(&str, &str, &[&str])] = &[
    ("edge-apimachinery", "apimachinery", &[]),
    ("edge-config", "config", &[]),
    ("edge-pki", "pki", &["edge-config"]),
    ("edge-datastore", "datastore", &["edge-config"]),
    (
        "edge-runtime",
        "",
        &[
            "edge-apimachinery",
            "edge-config",
            "edge-pki",
            "edge-datastore",
        ],
    ),
    // The image builder checks site configs with the config crate's
    // validator and never links the device runtime.
    ("edge-image", "../image", &["edge-config"]),
];

/// The crates that must build without tokio (no IO runtime).
const PURE: &[&str] = &["edge-apimachinery", "edge-config"];

fn runtime_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// Source text without comments and without the trailing test module.
fn code(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.split("//").next().unwrap_or_default();
            (i + 1, line.to_owned())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names a line refers to after `prefix` (`crate::a`, `crate::{a, b::c}`).
fn referenced(line: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        } else {
            names.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    names
}

/// Top-level module -> (module it uses -> the first place it does).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect();
    let mut graph = BTreeMap::new();
    for m in &modules {
        let mut files = Vec::new();
        let file = src.join(format!("{m}.rs"));
        if file.is_file() {
            files.push(file);
        }
        if src.join(m).is_dir() {
            rust_files(&src.join(m), &mut files);
        }
        let mut edges: BTreeMap<String, String> = BTreeMap::new();
        for f in &files {
            let top_level = f.parent() == Some(src);
            for (n, line) in code(f) {
                let mut names = referenced(&line, "crate::");
                if top_level {
                    names.extend(referenced(&line, "super::"));
                }
                for name in names {
                    if modules.contains(&name) && name != *m {
                        edges
                            .entry(name)
                            .or_insert_with(|| format!("{}:{n}", f.display()));
                    }
                }
            }
        }
        graph.insert(m.clone(), edges);
    }
    graph
}

/// A cycle in the graph, as the list of (module, where it uses the next).
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_cycle_between_its_top_level_modules() {
    let mut problems = Vec::new();
    for (name, dir, _) in LAYERS {
        let graph = module_graph(&runtime_dir().join(dir).join("src"));
        assert!(graph.len() > 2, "{name}: no modules found");
        if let Some(cycle) = find_cycle(&graph) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} -> {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            problems.push(format!("{name}: {}", steps.join(", ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles (move what both sides share below them):\n{}",
        problems.join("\n")
    );
}

#[test]
fn each_layer_uses_only_the_crates_below_it() {
    for (name, dir, allowed) in LAYERS {
        let manifest = std::fs::read_to_string(runtime_dir().join(dir).join("Cargo.toml"))
            .expect("Cargo.toml");
        let dependencies = manifest
            .split("\n[")
            .find(|section| section.starts_with("dependencies]"))
            .unwrap_or_default();
        let used: Vec<&str> = dependencies
            .lines()
            .filter_map(|l| l.split(['.', ' ', '=']).next())
            .filter(|d| d.starts_with("edge-"))
            .collect();
        for dependency in &used {
            assert!(
                allowed.contains(dependency),
                "{name} depends on {dependency}, which is not below it (allowed: {allowed:?})"
            );
        }
    }
}

#[test]
fn the_pure_crates_build_without_tokio() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for name in PURE {
        let out = Command::new(&cargo)
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
            ])
            .arg(name)
            .current_dir(runtime_dir())
            .output()
            .expect("cargo tree runs");
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && tree.contains(name),
            "cargo tree -p {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let io: Vec<&str> = tree
            .lines()
            .filter(|l| l.starts_with("tokio ") || l.starts_with("mio ") || l.starts_with("sqlx "))
            .collect();
        assert!(io.is_empty(), "{name} pulls in an IO runtime: {io:?}");
    }
}

#[test]
fn the_checker_reads_paths_and_finds_cycles() {
    assert_eq!(
        referenced(
            "use crate::{a::B, c};  x = crate::d::e; y::crate::f",
            "crate::"
        ),
        ["a", "c", "d"]
    );
    let graph: BTreeMap<String, BTreeMap<String, String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| {
        let edges = to
            .into_iter()
            .map(|t| (t.to_owned(), "f:1".to_owned()))
            .collect();
        (m.to_owned(), edges)
    })
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let mut acyclic = graph.clone();
    acyclic.get_mut("c").expect("c").clear();
    assert_eq!(find_cycle(&acyclic), None);
}
