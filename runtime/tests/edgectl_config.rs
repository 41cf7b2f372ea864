//! `edgectl config validate | render | schema`, run as the real binary
//! (`CARGO_BIN_EXE_edgectl`) the way an operator or a script runs it: exit
//! status, what goes to stdout and what to stderr, the located messages, the
//! `-o json` forms, and that no secret ever reaches any output.
//!
//! Tier 1/2: no root, no network; every file is written to a temporary
//! directory, which is also the working directory of each run (so a file
//! named `-` or a relative path never comes from the checkout).
//!
//! Owns the command-line contract only. The rules themselves (what is an
//! error, merge order) are tested on the library in `edge-config`; this file
//! must not re-test them beyond one example each, must not depend on the
//! device's own files (`render` without files reads `/proc/cmdline`), and must
//! not sleep or time anything.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value as Json, json};

/// A token and a datastore password: neither may appear in any output. Every
/// token used below contains `S3CRET`, every password `PWs3cret`.
const TOKEN: &str = "tok3n-S3CRET-5f2c9a1e7b";
const TOKEN_MARK: &str = "S3CRET";
const PASSWORD_MARK: &str = "PWs3cret";
const DATASTORE: &str = "postgres://edge:PWs3cret-41d7@10.0.0.5:5432/edge";
const DATASTORE_REDACTED: &str = "postgres://edge:***@10.0.0.5:5432/edge";

/// What one run printed and how it ended.
#[derive(Debug)]
struct Out {
    /// The exit status (None: killed by a signal).
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }

    fn assert_no_secret(&self, what: &str) {
        for mark in [TOKEN_MARK, PASSWORD_MARK] {
            assert!(
                !self.stdout.contains(mark) && !self.stderr.contains(mark),
                "{what}: a secret ({mark}…) in the output:\n{self:#?}"
            );
        }
    }
}

/// A temporary directory holding the files of one test.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("a temporary directory"))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `text` to `name` and returns its absolute path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write a fixture");
        p
    }

    /// Runs `edgectl ARGS` in this directory, stdin closed.
    fn run<I, S>(&self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_stdin(args, None)
    }

    fn run_with_stdin<I, S>(&self, args: I, stdin: Option<&str>) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgectl"));
        cmd.args(args)
            .current_dir(self.path())
            // The environment of whoever runs the tests must not change the output.
            .env_remove("RUST_LOG")
            .env_remove("EDGE_LOG_LEVEL")
            .env_remove("EDGE_URL")
            .env_remove("EDGE_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("start edgectl");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            // edgectl may exit without reading: a broken pipe is not our failure.
            let _ = pipe.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for edgectl");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// `path` as an argument.
fn arg(p: &Path) -> &OsStr {
    p.as_os_str()
}

/// A complete, valid server configuration: shared datastore, VIP, static
/// address. Line numbers matter to [`invalid_file`].
fn valid_server() -> String {
    format!(
        "role: server\n\
         token: {TOKEN}\n\
         datastore-endpoint: {DATASTORE}\n\
         hostname: edge-a\n\
         vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n\
         network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.0.1\n"
    )
}

/// [`valid_server`] with four errors, of four kinds, and where each is.
fn invalid_file() -> (String, Vec<(u64, u64, &'static str, &'static str)>) {
    let text = format!(
        "role: server\n\
         token: {TOKEN}\n\
         datastore-endpoint: {DATASTORE}\n\
         hostname: edge_a\n\
         clustr-dns: 10.43.0.10\n\
         vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 300\n\
         network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.1.1\n"
    );
    // (line, column, key, start of the message), in the order reported.
    let expected = vec![
        (4, 11, "hostname", "\"edge_a\" is not a hostname"),
        (
            5,
            1,
            "clustr-dns",
            "unknown key \"clustr-dns\"; did you mean \"cluster-dns\"?",
        ),
        (
            9,
            12,
            "vip.vrrp-id",
            "`300` is not valid: a virtual router id is 1..=255",
        ),
        (
            13,
            14,
            "network.eth0.gateway",
            "the gateway 10.0.1.1 is outside the interface's subnet 10.0.0.0/24",
        ),
    ];
    (text, expected)
}

/// The fields of one `-o json` diagnostic.
fn located(d: &Json) -> (String, u64, u64, String) {
    (
        d["file"].as_str().expect("file").to_owned(),
        d["line"].as_u64().expect("line"),
        d["column"].as_u64().expect("column"),
        d["key"].as_str().expect("key").to_owned(),
    )
}

fn diagnostics(report: &Json) -> &Vec<Json> {
    report["diagnostics"].as_array().expect("diagnostics")
}

// --- validate --------------------------------------------------------------

#[test]
fn validate_a_valid_file_exits_0_with_the_verdict_on_stdout() {
    let d = Dir::new();
    let f = d.file("edge.yaml", &valid_server());
    let out = d.run([OsStr::new("config"), OsStr::new("validate"), arg(&f)]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("valid: {}\n", show(&f)));
    assert_eq!(out.stderr, "", "{out:#?}");
}

#[test]
fn validate_an_invalid_file_exits_1_with_every_error_located_on_stderr() {
    let d = Dir::new();
    let (text, expected) = invalid_file();
    let f = d.file("edge.yaml", &text);
    let out = d.run([OsStr::new("config"), OsStr::new("validate"), arg(&f)]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    // Nothing a script could read as success: the errors are messages, not a result.
    assert_eq!(
        out.stdout, "",
        "stdout of an invalid configuration:\n{out:#?}"
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{out:#?}");
    for (line, (l, c, key, message)) in lines.iter().zip(&expected) {
        let want = format!("{}:{l}:{c}: {key}: {message}", show(&f));
        assert!(line.starts_with(&want), "want {want:?}, got {line:?}");
    }
    assert_eq!(
        lines.last().copied(),
        Some(format!("invalid: 4 errors in {}", show(&f)).as_str())
    );
    out.assert_no_secret("validate, invalid");
}

#[test]
fn validate_json_lists_every_error_with_file_line_column_and_key() {
    let d = Dir::new();
    let (text, expected) = invalid_file();
    let f = d.file("edge.yaml", &text);
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&f),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    let report = out.json();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 4);
    assert_eq!(report["warnings"], 0);
    let diags = diagnostics(&report);
    assert_eq!(diags.len(), expected.len(), "{report:#}");
    for (d, (l, c, key, message)) in diags.iter().zip(&expected) {
        let mut fields: Vec<&str> = d
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["column", "file", "key", "line", "message", "severity"]
        );
        assert_eq!(d["severity"], "error");
        assert_eq!(located(d), (show(&f), *l, *c, (*key).to_owned()));
        let m = d["message"].as_str().expect("message");
        assert!(m.starts_with(message), "want {message:?}, got {m:?}");
    }
    out.assert_no_secret("validate -o json, invalid");
}

#[test]
fn validate_a_valid_file_with_a_warning_in_text_and_json() {
    let d = Dir::new();
    // Shorter than 16 characters: valid, with a warning.
    let f = d.file("edge.yaml", "role: server\ntoken: S3CRETab\n");
    let out = d.run([OsStr::new("config"), OsStr::new("validate"), arg(&f)]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("valid: {} (1 warning)\n", show(&f)));
    let want = format!(
        "{}:2:8: warning: token: the token is shorter than 16 characters",
        show(&f)
    );
    assert!(out.stderr.starts_with(&want), "want {want:?}:\n{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    out.assert_no_secret("validate, warning");

    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("--output=json"),
        arg(&f),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    let report = out.json();
    assert_eq!(
        (&report["valid"], &report["errors"], &report["warnings"]),
        (&json!(true), &json!(0), &json!(1))
    );
    let diags = diagnostics(&report);
    assert_eq!(diags.len(), 1, "{report:#}");
    assert_eq!(diags[0]["severity"], "warning");
    assert_eq!(located(&diags[0]), (show(&f), 2, 8, "token".to_owned()));
    out.assert_no_secret("validate -o json, warning");

    // No warning at all: an empty list, not a missing one.
    let f = d.file("clean.yaml", &valid_server());
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&f),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.json(),
        json!({"valid": true, "errors": 0, "warnings": 0, "diagnostics": []})
    );
}

/// The README's form: `validate --site site.yaml edge.yaml`, the site config
/// below the device file. The device file sets a key the site config also
/// sets (validly): the error is the device file's.
#[test]
fn validate_attributes_an_error_in_the_device_file_to_the_device_file() {
    let d = Dir::new();
    let site = d.file(
        "site.yaml",
        &format!(
            "token: {TOKEN}\ndatastore-endpoint: {DATASTORE}\nhostname: site-a\n\
             vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n"
        ),
    );
    let edge = d.file(
        "edge.yaml",
        "role: server\nhostname: edge_a\nnetwork:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.1.1\n",
    );
    let args = |json: bool| {
        let mut a = vec![OsStr::new("config"), OsStr::new("validate")];
        if json {
            a.extend([OsStr::new("-o"), OsStr::new("json")]);
        }
        a.extend([OsStr::new("--site"), arg(&site), arg(&edge)]);
        a
    };
    let out = d.run(args(true));
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = out.json();
    let found: Vec<_> = diagnostics(&report).iter().map(located).collect();
    assert_eq!(
        found,
        [
            (show(&edge), 2, 11, "hostname".to_owned()),
            (show(&edge), 6, 14, "network.eth0.gateway".to_owned()),
        ],
        "{report:#}"
    );
    out.assert_no_secret("validate --site, json");

    let out = d.run(args(false));
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert!(
        out.stderr.lines().any(|l| l.starts_with(&format!(
            "{}:2:11: hostname: \"edge_a\" is not a hostname",
            show(&edge)
        ))),
        "{out:#?}"
    );
    assert!(
        !out.stderr.contains(&format!("{}:", show(&site))),
        "nothing is the site config's fault:\n{out:#?}"
    );
    assert_eq!(
        out.stderr.lines().last(),
        Some(format!("invalid: 2 errors in {} < {}", show(&site), show(&edge)).as_str())
    );
    out.assert_no_secret("validate --site");
}

#[test]
fn validate_attributes_an_error_in_the_site_config_to_the_site_config() {
    let d = Dir::new();
    let site = d.file(
        "site.yaml",
        &format!(
            "token: {TOKEN}\ndatastore-endpoint: {DATASTORE}\nclustr-dns: 10.43.0.10\n\
             vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n"
        ),
    );
    let edge = d.file(
        "edge.yaml",
        "role: server\nhostname: edge-a\nnetwork:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.0.1\n",
    );
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        OsStr::new("--site"),
        arg(&site),
        arg(&edge),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = out.json();
    let found: Vec<_> = diagnostics(&report).iter().map(located).collect();
    assert_eq!(
        found,
        [(show(&site), 3, 1, "clustr-dns".to_owned())],
        "{report:#}"
    );
    out.assert_no_secret("validate --site, site error");

    // The same two files, corrected: valid, both named, site first.
    let fixed = d.file(
        "site-fixed.yaml",
        &std::fs::read_to_string(&site)
            .expect("read")
            .replace("clustr-dns", "cluster-dns"),
    );
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("--site"),
        arg(&fixed),
        arg(&edge),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        format!("valid: {} < {}\n", show(&fixed), show(&edge))
    );
    assert_eq!(out.stderr, "", "{out:#?}");
}

/// Several device files: lowest precedence first (`--help`: "Device files
/// (edge.yaml), lowest precedence first"). An error in the second is the
/// second's, though the first sets the same key.
#[test]
fn validate_attributes_an_error_in_the_second_device_file_to_it() {
    let d = Dir::new();
    let first = d.file("a.yaml", &valid_server());
    let second = d.file("b.yaml", "hostname: edge_b\n");
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&first),
        arg(&second),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = out.json();
    let found: Vec<_> = diagnostics(&report).iter().map(located).collect();
    assert_eq!(
        found,
        [(show(&second), 1, 11, "hostname".to_owned())],
        "{report:#}"
    );

    // Order is precedence: the second file's value wins in render.
    let fixed = d.file("c.yaml", "hostname: edge-c\n");
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("render"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&first),
        arg(&fixed),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.json()["hostname"], "edge-c");
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("render"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&fixed),
        arg(&first),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.json()["hostname"], "edge-a");
}

/// stdin is not a source: `-` is a file name like any other. This pins that
/// a configuration piped in is never reported valid; change it when
/// `validate -` learns to read stdin.
#[test]
fn validate_dash_is_a_file_name_not_stdin() {
    let d = Dir::new();
    let out = d.run_with_stdin(["config", "validate", "-"], Some(&valid_server()));
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert!(
        out.stderr
            .starts_with("-: cannot read: No such file or directory"),
        "{out:#?}"
    );
    assert_eq!(
        out.stderr.lines().last(),
        Some("invalid: 1 error in -"),
        "{out:#?}"
    );
    out.assert_no_secret("validate -");
}

#[test]
fn a_missing_file_fails_naming_its_path() {
    let d = Dir::new();
    let missing = d.path().join("no-such-dir").join("edge.yaml");
    let good = d.file("edge.yaml", &valid_server());
    let cannot = format!(
        "{}: cannot read: No such file or directory (os error 2)",
        show(&missing)
    );

    let out = d.run([OsStr::new("config"), OsStr::new("validate"), arg(&missing)]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert_eq!(
        out.stderr,
        format!("{cannot}\ninvalid: 1 error in {}\n", show(&missing))
    );

    // Beside a valid file: still invalid, and said so.
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        arg(&good),
        arg(&missing),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert!(out.stderr.contains(&cannot), "{out:#?}");
    out.assert_no_secret("validate, missing beside valid");

    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&good),
        arg(&missing),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = out.json();
    assert_eq!(report["valid"], false);
    let diags = diagnostics(&report);
    assert_eq!(diags.len(), 1, "{report:#}");
    assert_eq!(located(&diags[0]), (show(&missing), 0, 0, String::new()));

    let out = d.run([
        OsStr::new("config"),
        OsStr::new("render"),
        arg(&good),
        arg(&missing),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert_eq!(out.stderr, format!("{cannot}\n"));

    // A missing site config is named too.
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("--site"),
        arg(&missing),
        arg(&good),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains(&cannot), "{out:#?}");
}

#[test]
fn validate_without_a_source_is_a_usage_error() {
    let d = Dir::new();
    let out = d.run(["config", "validate"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "edgectl: name at least one file (or --site / --cmdline)\n"
    );
}

// --- secrets ---------------------------------------------------------------

/// Valid and invalid files holding the token or the datastore password:
/// validate (text and JSON) and render (YAML and JSON) never print them.
#[test]
fn no_output_ever_shows_the_token_or_the_datastore_password() {
    let t = TOKEN;
    let ds = DATASTORE;
    // (what, file, validate's exit status)
    let cases: Vec<(&str, String, i32)> = vec![
        ("valid", valid_server(), 0),
        (
            "valid, short token (a warning)",
            "token: S3CRETab\n".into(),
            0,
        ),
        (
            "valid, quoted",
            format!("token: \"{t}\"\ndatastore-endpoint: '{ds}'\n"),
            0,
        ),
        (
            "valid, flow mapping",
            format!("{{token: {t}, datastore-endpoint: \"{ds}\"}}\n"),
            0,
        ),
        (
            "valid, block scalar",
            format!("token: |\n  {t}\ndatastore-endpoint: {ds}\n"),
            0,
        ),
        ("invalid elsewhere", invalid_file().0, 1),
        (
            "token with a space",
            "token: tok3n-S3CRET 5f2c9a1e7b\n".into(),
            1,
        ),
        ("token as a list", format!("token: [{t}]\n"), 1),
        ("token as a mapping", format!("token: {{{t}: 1}}\n"), 1),
        ("unclosed quote", format!("token: \"{t}\n"), 1),
        ("mapping value", format!("token: {t}: x\n"), 1),
        ("duplicate token", format!("token: {t}\ntoken: {t}-2\n"), 1),
        (
            "token and token-file",
            format!("token: {t}\ntoken-file: /run/token\n"),
            1,
        ),
        (
            "malformed K10 token",
            "token: K10tok3n-S3CRET::server:5f2c9a1e7b\n".into(),
            1,
        ),
        ("binary tag", format!("token: !!binary {t}\n"), 1),
        ("tab after the token", format!("token: {t}\n\tx: 1\n"), 1),
        (
            "datastore with an unknown scheme",
            "datastore-endpoint: foo://edge:PWs3cret-41d7@db/x\n".into(),
            1,
        ),
        (
            "datastore with a bad port",
            "datastore-endpoint: postgres://edge:PWs3cret-41d7@db:99999/x\n".into(),
            1,
        ),
        (
            "datastore with a bad sslmode",
            format!("token: {t}\ndatastore-endpoint: {ds}?sslmode=bogus\n"),
            1,
        ),
        (
            "datastore-endpoint on an agent",
            format!("role: agent\ntoken: {t}\ndatastore-endpoint: {ds}\n"),
            1,
        ),
        (
            "datastore as a list",
            format!("datastore-endpoint: [{ds}]\n"),
            1,
        ),
        (
            "datastore unclosed quote",
            format!("datastore-endpoint: \"{ds}\n"),
            1,
        ),
    ];
    let d = Dir::new();
    for (i, (what, text, status)) in cases.iter().enumerate() {
        let f = d.file(&format!("case-{i}.yaml"), text);
        let runs: [&[&str]; 4] = [
            &["validate"],
            &["validate", "-o", "json"],
            &["render"],
            &["render", "-o", "json"],
        ];
        for sub in runs {
            let mut a: Vec<&OsStr> = vec![OsStr::new("config")];
            a.extend(sub.iter().map(OsStr::new));
            a.push(arg(&f));
            let out = d.run(&a);
            let expected = if sub[0] == "validate" || *status == 1 {
                *status
            } else {
                0
            };
            assert_eq!(out.code, Some(expected), "{what}: {sub:?}\n{out:#?}");
            out.assert_no_secret(&format!("{what}: {sub:?}"));
        }
    }

    // Layered: the token in the site config, an error in the device file.
    let site = d.file(
        "site.yaml",
        &format!("token: {t}\ndatastore-endpoint: {ds}\n"),
    );
    let edge = d.file("edge.yaml", "hostname: edge_a\ntoken-file: relative\n");
    for o in ["text", "json"] {
        let out = d.run([
            OsStr::new("config"),
            OsStr::new("validate"),
            OsStr::new("-o"),
            OsStr::new(o),
            OsStr::new("--site"),
            arg(&site),
            arg(&edge),
        ]);
        assert_eq!(out.code, Some(1), "{out:#?}");
        out.assert_no_secret(&format!("layered, -o {o}"));
    }
}

/// A malformed `edge.*` kernel argument is reported; the value it carried
/// (here the token, or the datastore password) is not.
#[test]
fn a_malformed_kernel_argument_does_not_echo_its_value() {
    let d = Dir::new();
    let cases = [
        (format!("quiet edge.token.={TOKEN}"), "token."),
        (format!("edge..token={TOKEN}"), ".token"),
        (
            format!("edge.datastore-endpoint.={DATASTORE}"),
            "datastore-endpoint.",
        ),
    ];
    for (cmdline, key) in &cases {
        let out = d.run(["config", "validate", "--cmdline", cmdline]);
        assert_eq!(out.code, Some(1), "{cmdline}\n{out:#?}");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("kernel command line:1:")
                    && l.contains(&format!(": {key}: "))
                    && l.contains("is not edge.KEY=VALUE")),
            "{cmdline}\n{out:#?}"
        );
        out.assert_no_secret(&format!("validate --cmdline {cmdline:?}"));
        let out = d.run(["config", "validate", "-o", "json", "--cmdline", cmdline]);
        assert_eq!(out.code, Some(1), "{cmdline}\n{out:#?}");
        out.assert_no_secret(&format!("validate -o json --cmdline {cmdline:?}"));
        let out = d.run(["config", "render", "--cmdline", cmdline]);
        assert_eq!(out.code, Some(1), "{cmdline}\n{out:#?}");
        out.assert_no_secret(&format!("render --cmdline {cmdline:?}"));
    }
    // Well formed: a warning (readable in /proc/cmdline), still no value.
    let out = d.run([
        "config",
        "validate",
        "--cmdline",
        &format!("edge.token={TOKEN}"),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.starts_with(
            "kernel command line:1:1: warning: token: a token on the kernel command line"
        ),
        "{out:#?}"
    );
    assert_eq!(out.stdout, "valid: kernel command line (1 warning)\n");
    out.assert_no_secret("validate --cmdline edge.token=");
}

/// A YAML alias can copy the token into another key whose error quotes
/// what it was given: the message must not carry the token with it.
#[test]
fn a_token_copied_by_a_yaml_alias_is_not_echoed_in_an_error() {
    let d = Dir::new();
    let f = d.file(
        "edge.yaml",
        &format!("role: agent\ntoken: &t {TOKEN}\nserver: *t\n"),
    );
    for o in ["text", "json"] {
        let out = d.run([
            OsStr::new("config"),
            OsStr::new("validate"),
            OsStr::new("-o"),
            OsStr::new(o),
            arg(&f),
        ]);
        assert_eq!(out.code, Some(1), "{out:#?}");
        out.assert_no_secret(&format!("alias, validate -o {o}"));
    }
    let out = d.run([OsStr::new("config"), OsStr::new("render"), arg(&f)]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .starts_with(&format!("{}:3:9: server: ", show(&f))),
        "{out:#?}"
    );
    out.assert_no_secret("alias, render");
}

// --- render ----------------------------------------------------------------

/// Site config < device file < kernel command line, merged, secrets
/// redacted; the YAML and the JSON forms are the same value.
#[test]
fn render_prints_the_merged_configuration_redacted() {
    let d = Dir::new();
    let site = d.file(
        "site.yaml",
        &format!(
            "token: {TOKEN}\ndatastore-endpoint: {DATASTORE}\nhostname: site-a\n\
             vip:\n  address: 10.0.0.100\n  interface: eth0\n  vrrp-id: 51\n"
        ),
    );
    let edge = d.file(
        "edge.yaml",
        "role: server\nhostname: edge-a\nvip:\n  priority: 110\n\
         network:\n  eth0:\n    address: 10.0.0.11/24\n    gateway: 10.0.0.1\n",
    );
    let cmdline = "quiet edge.vip.priority=90 console=ttyS0";
    let run = |format: &str| {
        d.run([
            OsStr::new("config"),
            OsStr::new("render"),
            OsStr::new("-o"),
            OsStr::new(format),
            OsStr::new("--site"),
            arg(&site),
            arg(&edge),
            OsStr::new("--cmdline"),
            OsStr::new(cmdline),
        ])
    };
    let want = json!({
        "datastore-endpoint": DATASTORE_REDACTED,
        "hostname": "edge-a",
        "network": {"eth0": {"address": "10.0.0.11/24", "gateway": "10.0.0.1"}},
        "role": "server",
        "token": "<redacted>",
        "vip": {"address": "10.0.0.100", "interface": "eth0", "priority": 90, "vrrp-id": 51},
    });

    let out = run("json");
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    assert_eq!(out.json(), want);
    out.assert_no_secret("render -o json");

    // YAML is the default form.
    let default = d.run([
        OsStr::new("config"),
        OsStr::new("render"),
        OsStr::new("--site"),
        arg(&site),
        arg(&edge),
        OsStr::new("--cmdline"),
        OsStr::new(cmdline),
    ]);
    let out = run("yaml");
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    assert_eq!(default.stdout, out.stdout);
    let yaml: Json = serde_saphyr::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("render's YAML does not parse ({e}):\n{}", out.stdout));
    assert_eq!(yaml, want, "{}", out.stdout);
    assert!(
        out.stdout.lines().any(|l| l == "token: \"<redacted>\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l == format!("datastore-endpoint: {DATASTORE_REDACTED}")),
        "{}",
        out.stdout
    );
    out.assert_no_secret("render");

    // What render prints validates again (a script may save and reuse it).
    let again = d.file(
        "rendered.yaml",
        &out.stdout.replace("\"<redacted>\"", TOKEN),
    );
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&again),
    ]);
    // The redacted password is not a password: the endpoint still parses.
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.json()["errors"], 0, "{out:#?}");
}

#[test]
fn render_of_an_invalid_configuration_prints_only_errors_on_stderr() {
    let d = Dir::new();
    let (text, expected) = invalid_file();
    let f = d.file("edge.yaml", &text);
    for o in ["yaml", "json"] {
        let out = d.run([
            OsStr::new("config"),
            OsStr::new("render"),
            OsStr::new("-o"),
            OsStr::new(o),
            arg(&f),
        ]);
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert_eq!(out.stdout, "", "{out:#?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), expected.len(), "{out:#?}");
        for (line, (l, c, key, message)) in lines.iter().zip(&expected) {
            let want = format!("{}:{l}:{c}: {key}: {message}", show(&f));
            assert!(line.starts_with(&want), "want {want:?}, got {line:?}");
        }
        out.assert_no_secret(&format!("render -o {o}, invalid"));
    }
}

#[test]
fn render_prints_warnings_on_stderr_and_the_configuration_on_stdout() {
    let d = Dir::new();
    let f = d.file("edge.yaml", "role: server\ntoken: S3CRETab\n");
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("render"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&f),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.json(), json!({"role": "server", "token": "<redacted>"}));
    assert!(
        out.stderr.starts_with(&format!(
            "{}:2:8: warning: token: the token is shorter than 16 characters",
            show(&f)
        )),
        "{out:#?}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    out.assert_no_secret("render, warning");
}

// --- schema ----------------------------------------------------------------

#[test]
fn schema_is_a_closed_json_schema_naming_the_keys() {
    let d = Dir::new();
    let out = d.run(["config", "schema"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    let s = out.json();
    assert!(
        s["$schema"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://json-schema.org/")),
        "{:#}",
        s["$schema"]
    );
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    let props = s["properties"].as_object().expect("properties");
    for key in [
        "role",
        "token",
        "token-file",
        "token-sha256",
        "server",
        "datastore-endpoint",
        "vip",
        "network",
        "hostname",
        "cluster-size",
        "cluster-cidr",
        "tls-san",
    ] {
        assert!(props.contains_key(key), "{key} missing from the schema");
    }
    assert_eq!(s["properties"]["token"]["writeOnly"], true);
    let vip = &s["$defs"]["VipSection"];
    assert_eq!(vip["additionalProperties"], false, "{vip:#}");
    for key in [
        "address",
        "interface",
        "vrrp-id",
        "priority",
        "unicast-peers",
    ] {
        assert!(
            vip["properties"].get(key).is_some(),
            "vip.{key} missing: {vip:#}"
        );
    }
    assert_eq!(
        s["$defs"]["InterfaceSection"]["additionalProperties"],
        false
    );
}

/// The schema and the validator agree: each key the schema names is known
/// to `validate` (set to `~`, nothing is an unknown key), and a key it does
/// not name is refused.
#[test]
fn validate_knows_every_key_the_schema_names() {
    let d = Dir::new();
    let s = d.run(["config", "schema"]).json();
    let top: Vec<&String> = s["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    let vip: Vec<&String> = s["$defs"]["VipSection"]["properties"]
        .as_object()
        .expect("vip properties")
        .keys()
        .collect();
    assert!(top.len() >= 20 && vip.len() >= 5, "{top:?} {vip:?}");
    let mut text: String = top
        .iter()
        .filter(|k| k.as_str() != "vip")
        .map(|k| format!("{k}: ~\n"))
        .collect();
    text.push_str("vip:\n");
    text.extend(vip.iter().map(|k| format!("  {k}: ~\n")));
    text.push_str("network:\n  eth0:\n    dhcp: true\n    dns: ~\n    gateway: ~\n");
    text = text.replacen("network: ~\n", "", 1);
    let f = d.file("all-keys.yaml", &text);
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&f),
    ]);
    let report = out.json();
    let unknown: Vec<&Json> = diagnostics(&report)
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown key"))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "keys of the schema refused: {unknown:#?}\n{text}"
    );

    let f = d.file("typo.yaml", "vip:\n  priorty: 90\n");
    let out = d.run([
        OsStr::new("config"),
        OsStr::new("validate"),
        OsStr::new("-o"),
        OsStr::new("json"),
        arg(&f),
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = out.json();
    let diags = diagnostics(&report);
    assert_eq!(diags.len(), 1, "{report:#}");
    assert_eq!(
        located(&diags[0]),
        (show(&f), 2, 3, "vip.priorty".to_owned())
    );
    assert_eq!(
        diags[0]["message"],
        "unknown key \"priorty\"; did you mean \"priority\"?"
    );
}

// --- usage -----------------------------------------------------------------

#[test]
fn usage_errors_exit_2_on_stderr() {
    let d = Dir::new();
    let f = d.file("edge.yaml", &valid_server());
    let path = show(&f);
    let cases: [(&[&str], &str); 6] = [
        (
            &["config", "bogus"],
            "error: unrecognized subcommand 'bogus'",
        ),
        (&["bogus"], "error: unrecognized subcommand 'bogus'"),
        (
            &["config", "validate", "--bogus", &path],
            "error: unexpected argument '--bogus' found",
        ),
        (
            &["config", "validate", "-o", "xml", &path],
            "error: invalid value 'xml' for '--output <OUTPUT>'",
        ),
        (
            &["config", "render", "--site"],
            "error: a value is required for '--site <FILE>' but none was supplied",
        ),
        (&["config", "schema", &path], "error: unexpected argument"),
    ];
    for (args, message) in cases {
        let out = d.run(args);
        assert_eq!(out.code, Some(2), "{args:?}\n{out:#?}");
        assert_eq!(out.stdout, "", "{args:?}\n{out:#?}");
        assert!(
            out.stderr.starts_with(message),
            "{args:?}: want {message:?}\n{out:#?}"
        );
    }
}

#[test]
fn help_lists_the_config_commands() {
    let d = Dir::new();
    let out = d.run(["config", "--help"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for cmd in ["validate", "render", "schema"] {
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing:\n{}",
            out.stdout
        );
    }
    assert_eq!(out.stderr, "");
}
