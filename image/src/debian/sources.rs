//! APT sources: which archives (URI, suites, components) to fetch from.
//!
//! Owns parsing of deb822 `*.sources` files and one-line `sources.list` files,
//! reading the host's `/etc/apt` (one small function), and the `--mirror`
//! shorthand. Must not do network IO, pick packages, or hard-code any archive
//! host: the URIs come from the host's files or from the caller.

use std::path::{Path, PathBuf};

use super::ArchiveError;

/// One archive base URI with the suites and components to use from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AptSource {
    /// Base URI, without a trailing `/` (e.g. `http://host/debian`).
    pub uri: String,
    /// Suites (`bookworm`, `bookworm-updates`, …).
    pub suites: Vec<String>,
    /// Components (`main`, …).
    pub components: Vec<String>,
}

/// Sources for a `--mirror URI` flag: `suites` of `uri`, component `main`.
pub fn mirror(uri: &str, suites: &[&str]) -> Vec<AptSource> {
    vec![AptSource {
        uri: uri.trim_end_matches('/').to_owned(),
        suites: suites.iter().map(|s| (*s).to_owned()).collect(),
        components: vec!["main".to_owned()],
    }]
}

/// Reads the host's APT sources: `etc_apt/sources.list`, then
/// `etc_apt/sources.list.d/*.list` and `*.sources` in file-name order (other
/// extensions, such as `.disabled`, are ignored). Missing files are fine.
pub fn host_sources(etc_apt: &Path) -> Result<Vec<AptSource>, ArchiveError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let main = etc_apt.join("sources.list");
    if main.is_file() {
        files.push(main);
    }
    let dir = etc_apt.join("sources.list.d");
    if dir.is_dir() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ArchiveError::Io {
            action: "list",
            path: dir.clone(),
            source,
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| ArchiveError::Io {
                action: "list",
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("list" | "sources")) && path.is_file() {
                found.push(path);
            }
        }
        found.sort();
        files.extend(found);
    }
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| ArchiveError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let parsed = if path.extension().and_then(|e| e.to_str()) == Some("sources") {
            parse_deb822(&text)
        } else {
            parse_one_line(&text)
        };
        out.extend(parsed.map_err(|(line, message)| ArchiveError::Sources {
            path: path.clone(),
            line,
            message,
        })?);
    }
    Ok(out)
}

/// Parses a deb822 `*.sources` file. Only stanzas whose `Types` include
/// `deb` and that are not `Enabled: no` yield sources (one per URI).
/// Errors are `(line, message)`, line 1-based.
pub fn parse_deb822(text: &str) -> Result<Vec<AptSource>, (usize, String)> {
    let mut out = Vec::new();
    // (field name lowercased, value, line of the field)
    let mut stanza: Vec<(String, String, usize)> = Vec::new();
    let mut stanza_line = 0;
    let mut flush =
        |stanza: &mut Vec<(String, String, usize)>, line: usize| -> Result<(), (usize, String)> {
            if stanza.is_empty() {
                return Ok(());
            }
            let get = |name: &str| {
                stanza
                    .iter()
                    .find(|(n, _, _)| n == name)
                    .map(|(_, v, _)| v.as_str())
            };
            let words = |name: &str| -> Vec<String> {
                get(name)
                    .map(|v| v.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let types = words("types");
            let enabled = get("enabled").map(|v| v.trim().to_ascii_lowercase());
            let disabled = matches!(enabled.as_deref(), Some("no" | "false" | "0"));
            if types.iter().any(|t| t == "deb") && !disabled {
                let uris = words("uris");
                let suites = words("suites");
                if uris.is_empty() {
                    return Err((line, "stanza has `Types: deb` but no `URIs`".to_owned()));
                }
                if suites.is_empty() {
                    return Err((line, "stanza has `Types: deb` but no `Suites`".to_owned()));
                }
                let components = words("components");
                for uri in uris {
                    out.push(AptSource {
                        uri: uri.trim_end_matches('/').to_owned(),
                        suites: suites.clone(),
                        components: components.clone(),
                    });
                }
            }
            stanza.clear();
            Ok(())
        };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.starts_with('#') {
            continue;
        }
        if raw.trim().is_empty() {
            flush(&mut stanza, stanza_line)?;
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // Continuation of the previous field.
            let Some(last) = stanza.last_mut() else {
                return Err((n, "continuation line outside a field".to_owned()));
            };
            let value = raw.trim();
            if value != "." {
                last.1.push(' ');
                last.1.push_str(value);
            }
            continue;
        }
        let Some((name, value)) = raw.split_once(':') else {
            return Err((n, format!("expected `Field: value`, found {raw:?}")));
        };
        if stanza.is_empty() {
            stanza_line = n;
        }
        stanza.push((name.trim().to_ascii_lowercase(), value.trim().to_owned(), n));
    }
    flush(&mut stanza, stanza_line)?;
    Ok(out)
}

/// Parses a one-line-style `sources.list`: `deb [opts] uri suite comp...`.
/// `deb-src` lines and comments are skipped. Errors are `(line, message)`.
pub fn parse_one_line(text: &str) -> Result<Vec<AptSource>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (kind, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match kind {
            "deb" => {}
            "deb-src" => continue,
            other => return Err((n, format!("unknown source type {other:?} (expected deb)"))),
        }
        let mut rest = rest.trim_start();
        if let Some(opts) = rest.strip_prefix('[') {
            let Some(end) = opts.find(']') else {
                return Err((n, "`[` options without a closing `]`".to_owned()));
            };
            rest = opts[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            return Err((n, "expected `deb URI SUITE COMPONENT...`".to_owned()));
        };
        out.push(AptSource {
            uri: uri.trim_end_matches('/').to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_stanzas_comments_and_disabled() {
        let text = "\
# main archive
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
  non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: http://off.example/debian
Suites: bookworm
Components: main

Types: deb
# security
URIs: http://sec.example/debian-security http://sec2.example/ds
Suites: bookworm-security
Components: main
";
        let got = parse_deb822(text).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].uri, "http://mirror.example/debian");
        assert_eq!(got[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(got[0].components, ["main", "non-free-firmware"]);
        assert_eq!(got[1].uri, "http://sec.example/debian-security");
        assert_eq!(got[2].uri, "http://sec2.example/ds");
        assert_eq!(got[2].suites, ["bookworm-security"]);
    }

    #[test]
    fn deb822_errors_name_the_line() {
        let (line, msg) = parse_deb822("Types: deb\nSuites: x\n").expect_err("no URIs");
        assert_eq!(line, 1);
        assert!(msg.contains("URIs"), "{msg}");
        let (line, _) = parse_deb822("Types: deb\nnot a field\n").expect_err("bad line");
        assert_eq!(line, 2);
    }

    #[test]
    fn one_line_format() {
        let text = "\
# comment
deb http://a.example/debian bookworm main contrib
deb [arch=amd64 signed-by=/k.gpg] http://b.example/debian/ bookworm-updates main # tail
deb-src http://a.example/debian bookworm main

";
        let got = parse_one_line(text).expect("parses");
        assert_eq!(
            got,
            vec![
                AptSource {
                    uri: "http://a.example/debian".into(),
                    suites: vec!["bookworm".into()],
                    components: vec!["main".into(), "contrib".into()],
                },
                AptSource {
                    uri: "http://b.example/debian".into(),
                    suites: vec!["bookworm-updates".into()],
                    components: vec!["main".into()],
                },
            ]
        );
        let (line, _) = parse_one_line("deb http://x\n").expect_err("no suite");
        assert_eq!(line, 1);
        assert!(parse_one_line("rpm http://x a b\n").is_err());
    }

    #[test]
    fn host_sources_reads_only_sources_and_list_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("sources.list.d");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(
            dir.path().join("sources.list"),
            "deb http://first/ s1 main\n",
        )
        .expect("write");
        std::fs::write(
            d.join("b.sources"),
            "Types: deb\nURIs: http://third\nSuites: s3\nComponents: main\n",
        )
        .expect("write");
        std::fs::write(d.join("a.list"), "deb http://second s2 main\n").expect("write");
        std::fs::write(d.join("c.sources.disabled"), "garbage").expect("write");
        let got = host_sources(dir.path()).expect("reads");
        let uris: Vec<_> = got.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(uris, ["http://first", "http://second", "http://third"]);

        std::fs::write(d.join("d.list"), "deb\n").expect("write");
        let err = host_sources(dir.path()).expect_err("bad file");
        assert!(err.to_string().contains("d.list"), "{err}");
    }

    #[test]
    fn mirror_flag() {
        let got = mirror(
            "http://m.example/debian/",
            &["bookworm", "bookworm-updates"],
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uri, "http://m.example/debian");
        assert_eq!(got[0].components, ["main"]);
    }
}
