//! `Packages` indexes: parsing stanzas, merging several suites, and picking a
//! package by Debian version ordering (`resolve`, `follow`).
//!
//! Owns which version of a name wins. Pure: takes text, returns values. Must
//! not fetch, verify hashes, or resolve dependencies beyond the one `follow`
//! step (a kernel metapackage to its versioned image).

use std::collections::HashMap;
use std::str::FromStr;

use debversion::Version;

use super::ArchiveError;

/// Where a package's index came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Archive base URI (the `.deb` is at `uri/filename`).
    pub uri: String,
    /// Suite whose index listed it.
    pub suite: String,
}

/// One binary package of an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Path of the `.deb` relative to the archive base URI (`pool/…`).
    pub filename: String,
    pub size: u64,
    /// SHA-256 of the `.deb`, lower-case hex.
    pub sha256: String,
    /// The raw `Depends` field, if any.
    pub depends: Option<String>,
    pub origin: Origin,
}

/// Parses a `Packages` file. Stanzas missing a required field are errors that
/// name the package and field; unknown fields are ignored.
pub fn parse_packages(text: &str, origin: &Origin) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut start = 1;
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        if line.trim().is_empty() {
            if !fields.is_empty() {
                out.push(
                    stanza(&fields, origin).map_err(|e| format!("stanza at line {start}: {e}"))?,
                );
                fields.clear();
            }
            start = i + 2;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation (Description, Conffiles, …): not needed
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "line {}: expected `Field: value`, found {line:?}",
                i + 1
            ));
        };
        fields.push((name.trim(), value.trim()));
    }
    Ok(out)
}

fn stanza(fields: &[(&str, &str)], origin: &Origin) -> Result<Package, String> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let pkg = get("Package").ok_or("no Package field")?;
    let need = |name: &str| get(name).ok_or_else(|| format!("package {pkg} has no {name} field"));
    let size = need("Size")?;
    let size = size
        .parse()
        .map_err(|_| format!("package {pkg}: Size {size:?} is not a number"))?;
    let sha256 = need("SHA256")?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("package {pkg}: SHA256 {sha256:?} is not a SHA-256"));
    }
    let filename = need("Filename")?;
    if filename.split('/').any(|c| c == ".." || c.is_empty()) || filename.starts_with('/') {
        return Err(format!(
            "package {pkg}: Filename {filename:?} is not a pool path"
        ));
    }
    Ok(Package {
        name: pkg.to_owned(),
        version: need("Version")?.to_owned(),
        architecture: need("Architecture")?.to_owned(),
        filename: filename.to_owned(),
        size,
        sha256: sha256.to_ascii_lowercase(),
        depends: get("Depends").map(str::to_owned),
        origin: origin.clone(),
    })
}

/// One alternative of a `Depends` entry: name and an optional `= version`
/// pin (other relations are kept as `None`).
fn depends_names(depends: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for alt in depends.split([',', '|']) {
        let alt = alt.trim();
        let end = alt.find([' ', '(', ':', '[', '<']).unwrap_or(alt.len());
        let name = &alt[..end];
        if name.is_empty() {
            continue;
        }
        let pin = alt.find('(').and_then(|open| {
            let inner = alt[open + 1..].split(')').next()?.trim();
            let version = inner.strip_prefix('=')?;
            Some(version.trim().to_owned())
        });
        out.push((name.to_owned(), pin));
    }
    out
}

/// Packages of several suites (one architecture plus `all`), by name.
#[derive(Clone, Debug, Default)]
pub struct Index {
    arch: String,
    by_name: HashMap<String, Vec<Package>>,
    suites: Vec<String>,
}

impl Index {
    /// An empty index for Debian architecture `arch` (`amd64`, `arm64`).
    pub fn new(arch: &str) -> Self {
        Self {
            arch: arch.to_owned(),
            ..Self::default()
        }
    }

    /// Adds packages (of any suite); other architectures are dropped.
    pub fn add(&mut self, packages: Vec<Package>) {
        for p in packages {
            if p.architecture != self.arch && p.architecture != "all" {
                continue;
            }
            let label = format!("{} {}", p.origin.uri, p.origin.suite);
            if !self.suites.contains(&label) {
                self.suites.push(label);
            }
            self.by_name.entry(p.name.clone()).or_default().push(p);
        }
    }

    /// Records a suite as searched even when it held no package.
    pub fn searched(&mut self, origin: &Origin) {
        let label = format!("{} {}", origin.uri, origin.suite);
        if !self.suites.contains(&label) {
            self.suites.push(label);
        }
    }

    /// Number of packages held.
    pub fn len(&self) -> usize {
        self.by_name.values().map(Vec::len).sum()
    }

    /// Whether no package is held.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The highest version of `name` across all suites.
    pub fn resolve(&self, name: &str) -> Result<Package, ArchiveError> {
        self.pick(name, None)
    }

    /// Resolves `name`; if its `Depends` names a package starting with
    /// `prefix` (a kernel metapackage's `linux-image-6.1.0-N-… (= V)`),
    /// resolves that one instead, at exactly `V` when pinned with `=`.
    pub fn follow(&self, name: &str, prefix: &str) -> Result<Package, ArchiveError> {
        let meta = self.resolve(name)?;
        let Some(depends) = meta.depends.as_deref() else {
            return Ok(meta);
        };
        match depends_names(depends)
            .into_iter()
            .find(|(dep, _)| dep.starts_with(prefix) && dep != name)
        {
            Some((dep, pin)) => self.pick(&dep, pin.as_deref()),
            None => Ok(meta),
        }
    }

    fn pick(&self, name: &str, exact: Option<&str>) -> Result<Package, ArchiveError> {
        let not_found = || ArchiveError::PackageNotFound {
            name: name.to_owned(),
            version: exact.map(str::to_owned),
            arch: self.arch.clone(),
            suites: self.suites.clone(),
        };
        let candidates = self.by_name.get(name).ok_or_else(not_found)?;
        let wanted = exact.map(Version::from_str);
        let mut best: Option<(Option<Version>, &Package)> = None;
        for p in candidates {
            let v = Version::from_str(&p.version).ok();
            if let Some(want) = exact {
                let same =
                    p.version == want || matches!((&wanted, &v), (Some(Ok(w)), Some(v)) if w == v);
                if !same {
                    continue;
                }
            }
            let better = match (&best, &v) {
                (None, _) => true,
                (Some((Some(b), _)), Some(v)) => v > b,
                (Some((None, _)), Some(_)) => true, // a parsable version beats junk
                (Some(_), None) => false,
            };
            if better {
                best = Some((v, p));
            }
        }
        best.map(|(_, p)| p.clone()).ok_or_else(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(suite: &str) -> Origin {
        Origin {
            uri: "http://m.example/debian".into(),
            suite: suite.into(),
        }
    }

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn stanza(name: &str, version: &str, arch: &str, depends: Option<&str>) -> String {
        let mut s = format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
             Filename: pool/main/x/{name}_{version}_{arch}.deb\nSize: 100\nSHA256: {H}\n\
             Description: a thing\n more text\n .\n"
        );
        if let Some(d) = depends {
            s.push_str(&format!("Depends: {d}\n"));
        }
        s.push('\n');
        s
    }

    #[test]
    fn parses_stanzas() {
        let text = format!(
            "{}{}",
            stanza("busybox-static", "1:1.35.0-4+deb12u1+b1", "amd64", None),
            stanza(
                "raspi-firmware",
                "1.20220830+ds-1",
                "all",
                Some("dosfstools, a | b")
            )
        );
        let got = parse_packages(&text, &origin("bookworm")).expect("parses");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "busybox-static");
        assert_eq!(got[0].version, "1:1.35.0-4+deb12u1+b1");
        assert_eq!(got[0].size, 100);
        assert_eq!(got[0].sha256, H);
        assert_eq!(got[0].origin.suite, "bookworm");
        assert_eq!(got[1].depends.as_deref(), Some("dosfstools, a | b"));
        assert_eq!(got[1].architecture, "all");
    }

    #[test]
    fn parse_errors_name_package_and_field() {
        let err = parse_packages("Package: p\nVersion: 1\n\n", &origin("s")).expect_err("bad");
        assert!(err.contains("package p has no"), "{err}");
        let bad = stanza("q", "1", "all", None).replace("pool/main", "../etc");
        let err = parse_packages(&bad, &origin("s")).expect_err("bad path");
        assert!(err.contains("not a pool path"), "{err}");
    }

    #[test]
    fn resolve_picks_highest_version_across_suites_with_epochs() {
        let mut index = Index::new("amd64");
        let main = stanza("busybox-static", "1.36.0-1", "amd64", None)
            + &stanza("other", "1", "arm64", None);
        let updates = stanza("busybox-static", "1:1.35.0-4", "amd64", None);
        let security = stanza("busybox-static", "1:1.35.0-4~bpo1", "amd64", None);
        for (text, suite) in [
            (main, "bookworm"),
            (updates, "bookworm-updates"),
            (security, "sec"),
        ] {
            index.add(parse_packages(&text, &origin(suite)).expect("parses"));
        }
        let p = index.resolve("busybox-static").expect("found");
        assert_eq!(p.version, "1:1.35.0-4");
        assert_eq!(p.origin.suite, "bookworm-updates");
        assert_eq!(index.len(), 3, "arm64-only package dropped");

        let err = index.resolve("other").expect_err("wrong arch");
        let msg = err.to_string();
        assert!(msg.contains("other") && msg.contains("amd64"), "{msg}");
        assert!(msg.contains("bookworm-updates"), "{msg}");
    }

    #[test]
    fn follow_takes_the_pinned_kernel() {
        let mut index = Index::new("amd64");
        let text = stanza(
            "linux-image-cloud-amd64",
            "6.1.176-1",
            "amd64",
            Some("linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1)"),
        ) + &stanza(
            "linux-image-6.1.0-50-cloud-amd64",
            "6.1.176-1",
            "amd64",
            None,
        ) + &stanza(
            "linux-image-6.1.0-50-cloud-amd64",
            "6.1.177-1",
            "amd64",
            None,
        );
        index.add(parse_packages(&text, &origin("bookworm")).expect("parses"));
        let sec = stanza(
            "linux-image-cloud-amd64",
            "6.1.192-3",
            "amd64",
            Some(
                "linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3), initramfs-tools | linux-initramfs-tool",
            ),
        ) + &stanza(
            "linux-image-6.1.0-57-cloud-amd64",
            "6.1.192-3",
            "amd64",
            None,
        );
        index.add(parse_packages(&sec, &origin("bookworm-security")).expect("parses"));

        let k = index
            .follow("linux-image-cloud-amd64", "linux-image-")
            .expect("follows");
        assert_eq!(k.name, "linux-image-6.1.0-57-cloud-amd64");
        assert_eq!(k.version, "6.1.192-3");
        assert_eq!(k.origin.suite, "bookworm-security");

        // No dependency with the prefix: the package itself.
        let same = index
            .follow("linux-image-6.1.0-57-cloud-amd64", "linux-image-")
            .expect("itself");
        assert_eq!(same.name, "linux-image-6.1.0-57-cloud-amd64");

        // A pin that is not in the index is an error naming the version.
        let mut broken = Index::new("amd64");
        broken.add(
            parse_packages(
                &(stanza("meta", "1", "all", Some("linux-image-x (= 2)"))
                    .replace("Architecture: all", "Architecture: amd64")
                    + &stanza("linux-image-x", "1", "amd64", None)),
                &origin("s"),
            )
            .expect("parses"),
        );
        let err = broken
            .follow("meta", "linux-image-")
            .expect_err("pin missing");
        assert!(err.to_string().contains("linux-image-x (= 2)"), "{err}");
    }

    #[test]
    fn depends_parsing() {
        assert_eq!(
            depends_names("a (>= 1), b:any | c (= 2:3-4) [amd64], d<x>"),
            vec![
                ("a".to_owned(), None),
                ("b".to_owned(), None),
                ("c".to_owned(), Some("2:3-4".to_owned())),
                ("d".to_owned(), None),
            ]
        );
    }
}
