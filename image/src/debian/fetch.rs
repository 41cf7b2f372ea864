//! The archive adapter: HTTP downloads and the on-disk cache behind
//! [`Archive`].
//!
//! Owns the cache layout and when the network is used: a warm build (cache
//! complete, no `refresh`) makes no request; a failed download falls back to
//! a verified cached copy with a warning. Everything written to the cache is
//! verified first (signature for `InRelease`, size + SHA-256 for indexes and
//! `.deb`s) and lands by temp file + rename. Must not parse formats itself
//! (that is [`super::release`], [`super::index`]) or trust anything unverified.
//!
//! Cache layout under `cache_dir`:
//! - `dists/<uri without scheme, / → _>/<suite>/InRelease`
//! - `indexes/<sha256>` (a `Packages.xz` or `Packages`, by its SHA-256)
//! - `debs/<sha256>.deb`

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::ArchiveError;
use super::index::{Index, Origin, Package, parse_packages};
use super::release::{IndexEntry, Keyring, Release, parse_date, parse_release, verify_inrelease};
use super::sources::AptSource;
use crate::progress::Progress;

/// How long to wait for a connection, a response, or the next bytes.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `InRelease` accepted (bookworm's is about 200 KB).
const MAX_INRELEASE: u64 = 16 << 20;

/// What [`Archive::open`] needs.
#[derive(Clone, Debug)]
pub struct ArchiveOptions {
    pub sources: Vec<AptSource>,
    /// Debian architecture (`amd64`, `arm64`).
    pub arch: String,
    /// Extra components the board needs (`non-free-firmware`), added to each
    /// source's own.
    pub components: Vec<String>,
    pub cache_dir: PathBuf,
    pub keyring: Keyring,
    /// Download `InRelease` and indexes even when the cache has them.
    pub refresh: bool,
    /// Accept a release whose `Valid-Until` has passed.
    pub allow_expired_release: bool,
    pub progress: Progress,
}

/// Verified indexes of every configured suite, and a verified `.deb` cache.
#[derive(Debug)]
pub struct Archive {
    index: Index,
    cache: PathBuf,
    agent: ureq::Agent,
    progress: Progress,
}

impl Archive {
    /// Loads every suite's verified indexes, from the cache when it is
    /// complete (and `refresh` is off), else from the archive.
    pub fn open(options: ArchiveOptions) -> Result<Self, ArchiveError> {
        if options.sources.is_empty() {
            return Err(ArchiveError::NoSources);
        }
        for dir in ["dists", "indexes", "debs"] {
            mkdir(&options.cache_dir.join(dir))?;
        }
        let mut archive = Self {
            index: Index::new(&options.arch),
            cache: options.cache_dir.clone(),
            agent: agent(),
            progress: options.progress.clone(),
        };
        // (uri, suite) → components, in source order, deduplicated.
        let mut suites: Vec<(Origin, Vec<String>)> = Vec::new();
        for source in &options.sources {
            for suite in &source.suites {
                let origin = Origin {
                    uri: source.uri.trim_end_matches('/').to_owned(),
                    suite: suite.clone(),
                };
                let at = match suites.iter().position(|(o, _)| *o == origin) {
                    Some(i) => i,
                    None => {
                        suites.push((origin, Vec::new()));
                        suites.len() - 1
                    }
                };
                if let Some((_, comps)) = suites.get_mut(at) {
                    for c in source.components.iter().chain(&options.components) {
                        if !comps.contains(c) {
                            comps.push(c.clone());
                        }
                    }
                }
            }
        }
        let now = unix_now();
        for (origin, components) in &suites {
            let packages = archive.load_suite(origin, components, &options, now)?;
            archive.index.searched(origin);
            archive.index.add(packages);
        }
        Ok(archive)
    }

    /// The highest version of `name` across all suites.
    pub fn resolve(&self, name: &str) -> Result<Package, ArchiveError> {
        self.index.resolve(name)
    }

    /// See [`Index::follow`]: a metapackage to the package it pins.
    pub fn follow(&self, name: &str, prefix: &str) -> Result<Package, ArchiveError> {
        self.index.follow(name, prefix)
    }

    /// The merged index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// Path of a cached `.deb` whose size and SHA-256 match `package`,
    /// downloading it first when it is not cached. A cached copy is used
    /// whatever the archive holds now (old versions leave the pool).
    pub fn fetch(&self, package: &Package) -> Result<PathBuf, ArchiveError> {
        let url = format!("{}/{}", package.origin.uri, package.filename);
        let what = format!("{} {}", package.name, package.version);
        if !is_sha256(&package.sha256) {
            return Err(ArchiveError::Malformed {
                what,
                url,
                message: format!("SHA256 {:?} is not a SHA-256", package.sha256),
            });
        }
        let path = self
            .cache
            .join("debs")
            .join(format!("{}.deb", package.sha256));
        if file_matches(&path, package.size, &package.sha256) {
            let task = self.progress.task(&what, Some(package.size));
            task.finish("cached");
            return Ok(path);
        }
        if path.exists() {
            tracing::warn!(path = %path.display(), "cached package does not match its hash; downloading it again");
        }
        let expected = Expected {
            size: package.size,
            sha256: &package.sha256,
        };
        match self.download(&url, &what, Some(expected), &path) {
            Ok(()) => Ok(path),
            Err(e) => Err(self.download_error(e, &package.name, &url)),
        }
    }

    fn load_suite(
        &self,
        origin: &Origin,
        components: &[String],
        options: &ArchiveOptions,
        now: u64,
    ) -> Result<Vec<Package>, ArchiveError> {
        let dir = self
            .cache
            .join("dists")
            .join(uri_key(&origin.uri))
            .join(&origin.suite);
        let release_path = dir.join("InRelease");
        let url = format!("{}/dists/{}/InRelease", origin.uri, origin.suite);

        // The cached release, verified from disk, with all its indexes.
        let cached = self.cached_release(&release_path, origin, &url, components, options, now);
        let use_cache = |entries: Vec<IndexEntry>| {
            tracing::debug!(suite = %origin.suite, uri = %origin.uri, "using the cached release");
            self.read_indexes(&entries, origin)
        };
        if !options.refresh
            && let Ok(c) = cached
        {
            return use_cache(c);
        }

        // Download the release, then its indexes; fall back to the cache on network failure.
        let bytes = match self.get_small(&url, &format!("{} InRelease", origin.suite)) {
            Ok(bytes) => bytes,
            Err(cause) => {
                let cache_note = match cached {
                    Ok(c) => {
                        tracing::warn!("cannot get {url}: {cause}; using the cached copy");
                        return use_cache(c);
                    }
                    Err(note) => note,
                };
                // A verified copy of the same suite fetched from another mirror.
                if let Some((from, c)) = self.other_mirror_copy(origin, components, options, now) {
                    tracing::warn!(
                        "cannot get {url}: {cause}; using the cached copy of {} from {from}",
                        origin.suite
                    );
                    return use_cache(c);
                }
                return Err(ArchiveError::Unreachable {
                    what: format!("the {} release", origin.suite),
                    url,
                    cause,
                    cache_note,
                });
            }
        };
        let release = self.check_release(&bytes, origin, &url, options, now)?;
        let entries = wanted_indexes(&release, components, &options.arch, origin);
        let base = format!("{}/dists/{}", origin.uri, origin.suite);
        for entry in &entries {
            if let Err(e) = self.get_index(&base, entry, release.acquire_by_hash) {
                let cache_note = match (cached, &e) {
                    (Ok(c), DownloadError::Net { .. }) => {
                        tracing::warn!(
                            "cannot get {base}/{}: {e}; using the cached release",
                            entry.path
                        );
                        return use_cache(c);
                    }
                    (Ok(_), _) => self.empty_cache_note(),
                    (Err(note), _) => note,
                };
                let url = format!("{base}/{}", entry.path);
                let what = format!("index {} of {}", entry.path, origin.suite);
                return Err(match e {
                    DownloadError::Net { cause } => ArchiveError::Unreachable {
                        what,
                        url,
                        cause,
                        cache_note,
                    },
                    other => self.download_error(other, &what, &url),
                });
            }
        }
        write_atomic(&release_path, &bytes)?;
        self.read_indexes(&entries, origin)
    }

    /// The indexes of the cached `InRelease` at `path` when it verifies and
    /// all of them are cached; else a note on the cache for error messages.
    fn cached_release(
        &self,
        path: &Path,
        origin: &Origin,
        url: &str,
        components: &[String],
        options: &ArchiveOptions,
        now: u64,
    ) -> Result<Vec<IndexEntry>, String> {
        let Ok(bytes) = std::fs::read(path) else {
            return Err(self.empty_cache_note());
        };
        match self.check_release(&bytes, origin, url, options, now) {
            Ok(release) => {
                let entries = wanted_indexes(&release, components, &options.arch, origin);
                if entries
                    .iter()
                    .all(|e| file_matches(&self.index_path(e), e.size, &e.sha256))
                {
                    Ok(entries)
                } else {
                    Err(format!(
                        "the cache {} has the release but not all its indexes",
                        self.cache.display()
                    ))
                }
            }
            Err(ArchiveError::ReleaseExpired { valid_until, .. }) => Err(format!(
                "the cached copy in {} expired on {valid_until} (pass --allow-expired-release to use it)",
                self.cache.display()
            )),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring cached release: {e}");
                Err(self.empty_cache_note())
            }
        }
    }

    /// A usable cached release of `origin.suite` fetched from another base
    /// URI (a mirror of the same archive), newest `Date` first.
    fn other_mirror_copy(
        &self,
        origin: &Origin,
        components: &[String],
        options: &ArchiveOptions,
        now: u64,
    ) -> Option<(String, Vec<IndexEntry>)> {
        let own = uri_key(&origin.uri);
        let mut best: Option<(u64, String, Vec<IndexEntry>)> = None;
        for dir in std::fs::read_dir(self.cache.join("dists")).ok()?.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if name == own {
                continue;
            }
            let path = dir.path().join(&origin.suite).join("InRelease");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let label = path.display().to_string();
            let Ok(release) = self.check_release(&bytes, origin, &label, options, now) else {
                continue;
            };
            let entries = wanted_indexes(&release, components, &options.arch, origin);
            if !entries
                .iter()
                .all(|e| file_matches(&self.index_path(e), e.size, &e.sha256))
            {
                continue;
            }
            let date = release.date.as_deref().and_then(parse_date).unwrap_or(0);
            if best.as_ref().is_none_or(|(d, _, _)| date > *d) {
                best = Some((date, name, entries));
            }
        }
        best.map(|(_, name, entries)| (name, entries))
    }

    fn empty_cache_note(&self) -> String {
        format!(
            "the cache {} holds no copy (a build needs the archive once; after that it works offline)",
            self.cache.display()
        )
    }

    /// Verifies signature, parses, and checks `Valid-Until`.
    fn check_release(
        &self,
        bytes: &[u8],
        origin: &Origin,
        url: &str,
        options: &ArchiveOptions,
        now: u64,
    ) -> Result<Release, ArchiveError> {
        let verified = verify_inrelease(bytes, &options.keyring, now).map_err(|p| {
            ArchiveError::BadSignature {
                suite: origin.suite.clone(),
                url: url.to_owned(),
                reason: p.reason,
                signers: p.signers,
            }
        })?;
        let release = parse_release(&verified.body).map_err(|message| ArchiveError::Malformed {
            what: format!("the {} release", origin.suite),
            url: url.to_owned(),
            message,
        })?;
        if !options.allow_expired_release {
            release
                .check_valid_until(now)
                .map_err(|valid_until| ArchiveError::ReleaseExpired {
                    suite: origin.suite.clone(),
                    url: url.to_owned(),
                    valid_until,
                })?;
        }
        Ok(release)
    }

    fn index_path(&self, entry: &IndexEntry) -> PathBuf {
        self.cache.join("indexes").join(&entry.sha256)
    }

    /// Downloads one index into the cache unless it is there (by hash).
    fn get_index(
        &self,
        base: &str,
        entry: &IndexEntry,
        by_hash: bool,
    ) -> Result<(), DownloadError> {
        let path = self.index_path(entry);
        if file_matches(&path, entry.size, &entry.sha256) {
            return Ok(());
        }
        let expected = Expected {
            size: entry.size,
            sha256: &entry.sha256,
        };
        let plain = format!("{base}/{}", entry.path);
        if by_hash {
            let dir = entry.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let url = format!("{base}/{dir}/by-hash/SHA256/{}", entry.sha256);
            match self.download(&url, &entry.path, Some(expected), &path) {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!("by-hash {url}: {e}; trying {plain}"),
            }
        }
        self.download(&plain, &entry.path, Some(expected), &path)
    }

    /// Decompresses and parses the cached indexes of one suite.
    fn read_indexes(
        &self,
        entries: &[IndexEntry],
        origin: &Origin,
    ) -> Result<Vec<Package>, ArchiveError> {
        let mut out = Vec::new();
        for entry in entries {
            let path = self.index_path(entry);
            let url = format!("{}/dists/{}/{}", origin.uri, origin.suite, entry.path);
            let what = format!("index {} of {}", entry.path, origin.suite);
            let file = File::open(&path).map_err(|source| ArchiveError::Io {
                action: "open",
                path: path.clone(),
                source,
            })?;
            let mut text = String::new();
            let read = if entry.path.ends_with(".xz") {
                lzma_rust2::XzReader::new(std::io::BufReader::new(file), true)
                    .read_to_string(&mut text)
            } else {
                std::io::BufReader::new(file).read_to_string(&mut text)
            };
            read.map_err(|e| ArchiveError::Malformed {
                what: what.clone(),
                url: url.clone(),
                message: format!("cannot decompress {}: {e}", path.display()),
            })?;
            out.extend(
                parse_packages(&text, origin).map_err(|message| ArchiveError::Malformed {
                    what,
                    url,
                    message,
                })?,
            );
        }
        Ok(out)
    }

    /// GET into memory (small files: `InRelease`).
    fn get_small(&self, url: &str, label: &str) -> Result<Vec<u8>, String> {
        let task = self.progress.task(label, None);
        let result = self.agent.get(url).call().and_then(|response| {
            let mut bytes = Vec::new();
            response
                .into_body()
                .into_reader()
                .take(MAX_INRELEASE)
                .read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        match result {
            Ok(bytes) => {
                task.finish("downloaded");
                Ok(bytes)
            }
            Err(e) => {
                task.finish("failed");
                Err(e.to_string())
            }
        }
    }

    /// GET `url` into `dest` (temp file + rename) when it matches `expected`.
    fn download(
        &self,
        url: &str,
        label: &str,
        expected: Option<Expected<'_>>,
        dest: &Path,
    ) -> Result<(), DownloadError> {
        let response = self.agent.get(url).call().map_err(|e| DownloadError::Net {
            cause: e.to_string(),
        })?;
        let mut task = self.progress.task(label, expected.as_ref().map(|e| e.size));
        let tmp = temp_path(dest);
        let result = (|| {
            let mut file = File::create(&tmp).map_err(|source| {
                DownloadError::Io(ArchiveError::Io {
                    action: "create",
                    path: tmp.clone(),
                    source,
                })
            })?;
            let limit = expected
                .as_ref()
                .map_or(u64::MAX, |e| e.size.saturating_add(1));
            let mut reader = response.into_body().into_reader().take(limit);
            let mut hasher = Sha256::new();
            let mut total = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = reader.read(&mut buf).map_err(|e| DownloadError::Net {
                    cause: e.to_string(),
                })?;
                if n == 0 {
                    break;
                }
                let chunk = buf.get(..n).unwrap_or(&[]);
                hasher.update(chunk);
                file.write_all(chunk).map_err(|source| {
                    DownloadError::Io(ArchiveError::Io {
                        action: "write",
                        path: tmp.clone(),
                        source,
                    })
                })?;
                total += n as u64;
                task.advance(n as u64);
            }
            let got = hex::encode(hasher.finalize());
            if let Some(e) = &expected
                && (total != e.size || got != e.sha256)
            {
                let detail = if total > e.size {
                    format!(
                        "expected sha256 {} ({} bytes), got more than {} bytes",
                        e.sha256, e.size, e.size
                    )
                } else {
                    format!(
                        "expected sha256 {} ({} bytes), got {got} ({total} bytes)",
                        e.sha256, e.size
                    )
                };
                return Err(DownloadError::Mismatch { detail });
            }
            file.sync_all().map_err(|source| {
                DownloadError::Io(ArchiveError::Io {
                    action: "sync",
                    path: tmp.clone(),
                    source,
                })
            })?;
            std::fs::rename(&tmp, dest).map_err(|source| {
                DownloadError::Io(ArchiveError::Io {
                    action: "rename into",
                    path: dest.to_owned(),
                    source,
                })
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
            task.finish("failed");
        } else {
            task.finish("verified");
        }
        result
    }

    fn download_error(&self, e: DownloadError, what: &str, url: &str) -> ArchiveError {
        match e {
            DownloadError::Net { cause } => ArchiveError::Unreachable {
                what: what.to_owned(),
                url: url.to_owned(),
                cause,
                cache_note: self.empty_cache_note(),
            },
            DownloadError::Mismatch { detail } => ArchiveError::Checksum {
                what: what.to_owned(),
                url: url.to_owned(),
                detail,
            },
            DownloadError::Io(e) => e,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Expected<'a> {
    size: u64,
    sha256: &'a str,
}

#[derive(Debug, thiserror::Error)]
enum DownloadError {
    #[error("{cause}")]
    Net { cause: String },
    #[error("{detail}")]
    Mismatch { detail: String },
    #[error(transparent)]
    Io(ArchiveError),
}

fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(TIMEOUT))
        .timeout_recv_response(Some(TIMEOUT))
        .timeout_per_read(Some(TIMEOUT))
        .user_agent("edge-image")
        .build()
        .into()
}

/// The indexes of `release` for `components` and `arch`: `Packages.xz` when
/// listed, else plain `Packages`. Components the suite lacks are skipped
/// (a board's extra component need not be in every suite).
fn wanted_indexes(
    release: &Release,
    components: &[String],
    arch: &str,
    origin: &Origin,
) -> Vec<IndexEntry> {
    let mut out: BTreeMap<String, IndexEntry> = BTreeMap::new();
    for comp in components {
        let dir = format!("{comp}/binary-{arch}");
        let found = [format!("{dir}/Packages.xz"), format!("{dir}/Packages")]
            .iter()
            .find_map(|p| release.entry(p).cloned());
        match found {
            Some(e) => {
                out.insert(e.path.clone(), e);
            }
            None => tracing::debug!(
                suite = %origin.suite,
                uri = %origin.uri,
                "the release lists no index for component {comp}, architecture {arch}; skipping it"
            ),
        }
    }
    out.into_values().collect()
}

/// `http://mirror.example/debian` → `mirror.example_debian`.
fn uri_key(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.trim_end_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `path` exists with `size` bytes and SHA-256 `sha256`.
fn file_matches(path: &Path, size: u64, sha256: &str) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.len() != size {
        return false;
    }
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or(&[])),
            Err(_) => return false,
        }
    }
    hex::encode(hasher.finalize()).eq_ignore_ascii_case(sha256)
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.partial.{}", std::process::id()))
}

fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    if let Some(parent) = dest.parent() {
        mkdir(parent)?;
    }
    let tmp = temp_path(dest);
    let io = |action, path: &Path| {
        let path = path.to_owned();
        move |source| ArchiveError::Io {
            action,
            path,
            source,
        }
    };
    let result = std::fs::write(&tmp, bytes)
        .map_err(io("write", &tmp))
        .and_then(|()| std::fs::rename(&tmp, dest).map_err(io("rename into", dest)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn mkdir(path: &Path) -> Result<(), ArchiveError> {
    std::fs::create_dir_all(path).map_err(|source| ArchiveError::Io {
        action: "create directory",
        path: path.to_owned(),
        source,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;

    /// Serves `body` for every GET on loopback (no network), `count` times.
    fn serve(body: Vec<u8>, count: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        format!("http://{addr}")
    }

    /// A loopback URI nothing listens on.
    fn dead_uri() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        format!("http://{addr}")
    }

    fn archive(cache: &Path) -> Archive {
        for dir in ["dists", "indexes", "debs"] {
            mkdir(&cache.join(dir)).expect("mkdir");
        }
        Archive {
            index: Index::new("amd64"),
            cache: cache.to_owned(),
            agent: agent(),
            progress: Progress::silent(),
        }
    }

    fn package(uri: &str, body: &[u8]) -> Package {
        Package {
            name: "busybox-static".into(),
            version: "1:1.35.0-4".into(),
            architecture: "amd64".into(),
            filename: "pool/main/b/busybox/busybox-static_1.35.0-4_amd64.deb".into(),
            size: body.len() as u64,
            sha256: hex::encode(Sha256::digest(body)),
            depends: None,
            origin: Origin {
                uri: uri.into(),
                suite: "bookworm".into(),
            },
        }
    }

    #[test]
    fn fetch_verifies_caches_by_hash_then_needs_no_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = b"!<arch>\npretend package".to_vec();
        let archive = archive(dir.path());
        let pkg = package(&serve(body.clone(), 1), &body);
        let path = archive.fetch(&pkg).expect("downloads");
        assert_eq!(
            path,
            dir.path().join("debs").join(format!("{}.deb", pkg.sha256))
        );
        assert_eq!(std::fs::read(&path).expect("cached"), body);

        // The archive is gone (or dropped the version): the cache answers by hash.
        let gone = Package {
            origin: Origin {
                uri: dead_uri(),
                suite: "bookworm".into(),
            },
            ..pkg
        };
        assert_eq!(archive.fetch(&gone).expect("from cache"), path);
    }

    #[test]
    fn checksum_mismatch_names_both_hashes_and_caches_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = archive(dir.path());
        let body = b"tampered bytes".to_vec();
        let mut pkg = package(&serve(body.clone(), 1), &body);
        let actual = pkg.sha256.clone();
        pkg.sha256 = "ab".repeat(32);
        let err = archive.fetch(&pkg).expect_err("mismatch");
        assert!(matches!(err, ArchiveError::Checksum { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("busybox-static"), "{msg}");
        assert!(
            msg.contains(&format!("expected sha256 {}", pkg.sha256)),
            "{msg}"
        );
        assert!(msg.contains(&format!("got {actual}")), "{msg}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("debs"))
            .expect("debs")
            .collect();
        assert!(left.is_empty(), "nothing cached: {left:?}");
    }

    #[test]
    fn unreachable_archive_with_empty_cache_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = archive(dir.path());
        let pkg = package(&dead_uri(), b"never served");
        let err = archive.fetch(&pkg).expect_err("unreachable");
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot get busybox-static from http://127.0.0.1:"),
            "{msg}"
        );
        assert!(msg.contains(&pkg.filename), "{msg}");
        assert!(
            msg.contains(&format!("the cache {} holds no copy", dir.path().display())),
            "{msg}"
        );
    }

    #[test]
    fn open_without_sources_or_archive_fails_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = |sources| ArchiveOptions {
            sources,
            arch: "amd64".into(),
            components: vec!["non-free-firmware".into()],
            cache_dir: dir.path().to_owned(),
            keyring: Keyring::debian().expect("keyring"),
            refresh: false,
            allow_expired_release: false,
            progress: Progress::silent(),
        };
        let err = Archive::open(options(Vec::new())).expect_err("no sources");
        assert!(matches!(err, ArchiveError::NoSources));
        let dead = super::super::sources::mirror(&dead_uri(), &["bookworm"]);
        let msg = Archive::open(options(dead))
            .expect_err("unreachable")
            .to_string();
        assert!(msg.contains("the bookworm release"), "{msg}");
        assert!(msg.contains("/dists/bookworm/InRelease"), "{msg}");
        assert!(msg.contains("holds no copy"), "{msg}");
    }

    #[test]
    fn cache_names() {
        assert_eq!(
            uri_key("http://mirror.example/debian/"),
            "mirror.example_debian"
        );
        assert_eq!(uri_key("https://h:8080/a/b"), "h_8080_a_b");
        let tmp = temp_path(Path::new("/c/debs/x.deb"));
        assert_eq!(tmp.parent(), Some(Path::new("/c/debs")));
        assert!(is_sha256(&"a".repeat(64)) && !is_sha256("abc"));
    }
}
