//! `edge-image` as a binary, with bad input: each refusal exits 1, says what
//! was wrong, where, and what to do, and leaves no image behind. The archive
//! faults (unreachable, tampered package, tampered signature) go through a
//! loopback proxy in front of the host's Debian mirror.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use support::{edge_image, said, single_server_site};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Builds with the given arguments plus `--out DIR/site.img`; returns the
/// output and whether any file was left in DIR besides the inputs.
fn build(dir: &Path, args: &[impl AsRef<str>]) -> (Output, Vec<String>) {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let image = out.join("site.img");
    let mut all: Vec<&str> = vec!["build", "--out", image.to_str().expect("utf-8")];
    all.extend(args.iter().map(AsRef::as_ref));
    let o = edge_image(&all, &[]);
    let left: Vec<String> = std::fs::read_dir(&out)
        .expect("out dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    (o, left)
}

fn site(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("site.yaml");
    std::fs::write(&p, text).expect("site");
    p
}

/// `--board x86_64-generic` with a site config, a runtime, an archive and a
/// cache, then `extra`.
fn x86_build(
    config: &Path,
    runtime: &Path,
    mirror: &str,
    cache: &Path,
    extra: &[&str],
) -> Vec<String> {
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let mut args: Vec<String> = vec![
        "--board".into(),
        "x86_64-generic".into(),
        "--config".into(),
        path(config),
        "--runtime".into(),
        path(runtime),
        "--mirror".into(),
        mirror.into(),
        "--cache".into(),
        path(cache),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

#[test]
fn boards_lists_every_board_with_its_arch_and_boot_chain() {
    let o = edge_image(&["boards"], &[]);
    assert!(o.status.success(), "{}", said(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(4).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["aarch64-generic", "aarch64", "uefi", "gpt"],
            ["raspberrypi-4", "aarch64", "raspberrypi", "mbr"],
            ["x86_64-generic", "x86_64", "uefi", "gpt"],
        ],
        "{text}"
    );
    let o = edge_image(&["boards", "-o", "json"], &[]);
    let boards: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(boards[2]["name"], "x86_64-generic");
    assert_eq!(boards[2]["boot"]["chain"], "uefi");
}

#[test]
fn an_unknown_board_is_refused_with_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(dir.path(), &single_server_site());
    let (o, left) = build(
        dir.path(),
        &[
            "--board",
            "rpi4",
            "--config",
            config.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(
        stderr(&o).contains(
            "unknown board \"rpi4\"; known boards: aarch64-generic, raspberrypi-4, x86_64-generic"
        ),
        "{}",
        said(&o)
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_board_file_with_a_bad_key_is_located_by_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(support::repo().join("board-configs/x86_64-generic.toml"))
        .expect("board")
        .replace("boot-mib =", "bootmib =");
    let line = text
        .lines()
        .position(|l| l.starts_with("bootmib"))
        .expect("line")
        + 1;
    let board = dir.path().join("myboard.toml");
    std::fs::write(&board, text).expect("board");
    let config = site(dir.path(), &single_server_site());
    let (o, left) = build(
        dir.path(),
        &[
            "--board",
            board.to_str().expect("utf-8"),
            "--config",
            config.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let want = format!(
        "{}:{line}:1: bootmib: unknown field `bootmib`",
        board.display()
    );
    assert!(stderr(&o).contains(&want), "want {want}\n{}", said(&o));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_invalid_site_config_gives_every_error_and_writes_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(
        dir.path(),
        "role: server\ntoken: S3CRET-site-token\nclustr-cidr: 10.0.0.0/8\nvip:\n  address: 10.0.0.300\n",
    );
    let (o, left) = build(
        dir.path(),
        &[
            "--board",
            "x86_64-generic",
            "--config",
            config.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let e = stderr(&o);
    let name = config.display().to_string();
    assert!(
        e.contains(&format!("{name}:3:1: clustr-cidr: ")),
        "{}",
        said(&o)
    );
    assert!(
        e.contains(&format!("{name}:5:12: vip.address: ")),
        "{}",
        said(&o)
    );
    assert!(e.contains("no image written"), "{}", said(&o));
    assert!(
        !e.contains("S3CRET"),
        "a secret in the output: {}",
        said(&o)
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_output_path_that_cannot_be_written_is_refused_before_anything_is_fetched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(dir.path(), &single_server_site());
    let o = edge_image(
        &[
            "build",
            "--board",
            "x86_64-generic",
            "--config",
            config.to_str().expect("utf-8"),
            "--out",
            "/proc/edge-image-test/site.img",
            // Were the archive contacted, this would be the error instead.
            "--mirror",
            "http://127.0.0.1:9/debian",
            "--cache",
            dir.path().join("cache").to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(
        stderr(&o).contains("cannot write the image /proc/edge-image-test/site.img: ")
            && stderr(&o).contains("choose --out in a directory you can write"),
        "{}",
        said(&o)
    );
    assert!(
        !dir.path().join("cache").exists(),
        "nothing was fetched or cached"
    );
}

/// A minimal 64-bit ELF header for a machine (no program headers).
fn elf_for(machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1; // version
    h[16] = 2; // ET_EXEC
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h[20] = 1;
    h[52] = 64; // e_ehsize
    h
}

#[test]
fn a_runtime_for_another_architecture_or_dynamically_linked_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(dir.path(), &single_server_site());
    let arm = dir.path().join("edged-arm64");
    std::fs::write(&arm, elf_for(183)).expect("elf");
    let cache = dir.path().join("cache");
    let (o, left) = build(
        dir.path(),
        &x86_build(&config, &arm, "http://127.0.0.1:9/debian", &cache, &[]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(
        stderr(&o).contains(&format!(
            "--runtime {}: an aarch64 binary; board x86_64-generic needs x86_64",
            arm.display()
        )),
        "{}",
        said(&o)
    );
    assert!(left.is_empty(), "{left:?}");
    // A glibc build of the host's architecture: the image has no C library.
    let (o, _) = build(
        dir.path(),
        &x86_build(
            &config,
            Path::new("/bin/true"),
            "http://127.0.0.1:9/debian",
            &cache,
            &[],
        ),
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(
        stderr(&o).contains("--runtime /bin/true: dynamically linked"),
        "{}",
        said(&o)
    );
    assert!(!cache.exists(), "nothing was fetched or cached");
}

#[test]
fn an_unreachable_archive_with_an_empty_cache_says_what_it_could_not_get() {
    let Some(runtime) = support::runtime("x86_64-unknown-linux-musl") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(dir.path(), &single_server_site());
    let cache = dir.path().join("cache");
    let (o, left) = build(
        dir.path(),
        &x86_build(&config, &runtime, "http://127.0.0.1:9/debian", &cache, &[]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let e = stderr(&o);
    assert!(
        e.contains("http://127.0.0.1:9/debian/dists/bookworm/InRelease")
            && e.contains(&format!("the cache {} holds no copy", cache.display())),
        "{}",
        said(&o)
    );
    assert!(left.is_empty(), "{left:?}");
}

/// A loopback HTTP proxy in front of the host's Debian mirror that changes
/// what it forwards.
struct Proxy {
    url: String,
}

impl Proxy {
    fn start(tamper: fn(&str, Vec<u8>) -> Vec<u8>) -> Option<Proxy> {
        let sources = edge_image::debian::sources::host_sources(Path::new("/etc/apt"));
        let upstream = edge_testkit::or_skip(
            "the host's Debian mirror (apt sources)",
            sources.map_err(|e| e.to_string()).and_then(|s| {
                s.into_iter()
                    .find(|s| s.suites.iter().any(|x| x == "bookworm"))
                    .map(|s| s.uri.trim_end_matches('/').to_owned())
                    .ok_or_else(|| "no source with suite bookworm in /etc/apt".to_owned())
            }),
        )?;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/debian", listener.local_addr().expect("addr"));
        let upstream = Arc::new(upstream);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let upstream = Arc::clone(&upstream);
                std::thread::spawn(move || serve(stream, &upstream, tamper));
            }
        });
        Some(Proxy { url })
    }
}

fn serve(mut stream: TcpStream, upstream: &str, tamper: fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.strip_prefix("/debian").unwrap_or(path);
    let response = ureq::get(&format!("{upstream}{path}"))
        .call()
        .ok()
        .and_then(|mut r| {
            r.body_mut()
                .with_config()
                .limit(200 << 20)
                .read_to_vec()
                .ok()
        });
    let reply = match response {
        Some(body) => {
            let body = tamper(path, body);
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&reply);
}

fn build_through(proxy: &Proxy, dir: &Path) -> Option<(Output, Vec<String>, PathBuf)> {
    let runtime = support::runtime("x86_64-unknown-linux-musl")?;
    let config = site(dir, &single_server_site());
    let cache = dir.join("cache");
    let (o, left) = build(
        dir,
        &x86_build(
            &config,
            &runtime,
            &proxy.url,
            &cache,
            &["--suite", "bookworm"],
        ),
    );
    Some((o, left, cache))
}

fn cached_debs(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("debs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_package_whose_checksum_does_not_match_is_named_with_both_hashes_and_not_cached() {
    // The first package fetched is the kernel; one byte of it changes.
    let Some(proxy) = Proxy::start(|path, mut body| {
        if path.ends_with(".deb") && !body.is_empty() {
            let mid = body.len() / 2;
            body[mid] ^= 0xff;
        }
        body
    }) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((o, left, cache)) = build_through(&proxy, dir.path()) else {
        return;
    };
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let e = stderr(&o);
    assert!(
        e.contains("linux-image-"),
        "names the package: {}",
        said(&o)
    );
    let hashes = e
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 64)
        .count();
    assert!(hashes >= 2, "both hashes: {}", said(&o));
    assert!(
        cached_debs(&cache).is_empty(),
        "nothing cached: {:?}",
        cached_debs(&cache)
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_release_file_whose_signature_does_not_verify_is_refused() {
    let Some(proxy) = Proxy::start(|path, body| {
        if path.ends_with("/InRelease") {
            let text = String::from_utf8_lossy(&body).replacen("Suite: ", "Suite: x", 1);
            return text.into_bytes();
        }
        body
    }) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((o, left, cache)) = build_through(&proxy, dir.path()) else {
        return;
    };
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    let e = stderr(&o);
    assert!(
        e.contains("bookworm") && e.contains(&format!("{}/dists/bookworm/InRelease", proxy.url)),
        "names the suite and where it came from: {}",
        said(&o)
    );
    assert!(e.to_lowercase().contains("signature"), "{}", said(&o));
    assert!(cached_debs(&cache).is_empty());
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn kernel_arguments_are_checked_with_the_site_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = site(dir.path(), &single_server_site());
    let (o, left) = build(
        dir.path(),
        &[
            "--board",
            "x86_64-generic",
            "--config",
            config.to_str().expect("utf-8"),
            "--kernel-arg",
            "edge.vip.priorty=90",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));
    assert!(
        stderr(&o).contains("kernel command line:1:1: vip.priorty: unknown key \"priorty\"; did you mean \"priority\"?")
            && stderr(&o).contains("< kernel command line; no image written"),
        "{}",
        said(&o)
    );
    assert!(left.is_empty(), "{left:?}");
}
