//! The init role: the boot sequence from partitions to a supervised
//! `edged server|agent`, or maintenance mode when anything the operator can
//! fix is wrong.
//!
//! Sequence: mount proc/sys/dev/run/tmp; boot partition (EDGE-BOOT); data
//! partition (EDGE-DATA, formatted with ext4 when blank); configuration
//! (site config < edge.yaml < kernel command line, validated); token to the
//! data partition; hostname and network; runtime config
//! (`/etc/edge/config.yaml`, checked with `edged server`'s own parser); then
//! the child, restarted with backoff. After its first READY the token in
//! edge.yaml is replaced by its sha256. SIGTERM (reboot), SIGUSR2 (poweroff)
//! and SIGUSR1 (halt), busybox's conventions, stop the child cleanly first.
//!
//! Owns the order of things and the status report. Must not crash or loop on
//! a bad configuration: every such problem ends in maintenance mode, where the
//! console and `GET /v1-edge/status` show it with file, line and key.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::layout::{BOOT_LABEL, DATA_LABEL, Layout};
use super::maintenance;
use super::notify;
use super::probe::FsKind;
use super::scrub;
use super::status::{self, BootStatus, ChildStatus, Mode, SourceStatus};
use super::supervise::{self, Backoff, ChildSpec, Reaper};
use super::system::{Network, Platform};
use edge_config::edge::Role;
use edge_config::render;
use edge_config::token::Token;
use edge_config::tree::Layer;
use edge_config::validate::{
    Addressing, Diagnostic, EdgeConfig, Input, NetworkPlan, ParsedLayer, TokenSource, load,
};

/// How `edged init` runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub layout: Layout,
    /// The `edged` binary to start as `edged server|agent`.
    pub program: PathBuf,
    /// Maintenance mode's status endpoint.
    pub status_address: SocketAddr,
    /// How long the child gets between SIGTERM and SIGKILL.
    pub stop_timeout: Duration,
    /// PID 1: signals mean reboot/poweroff/halt, and orphans are ours.
    pub pid1: bool,
}

impl Options {
    pub fn new(layout: Layout, program: PathBuf) -> Self {
        Self {
            layout,
            program,
            status_address: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 6443),
            stop_timeout: Duration::from_secs(30),
            pid1: false,
        }
    }
}

/// What to do when `edged init` is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Reboot,
    PowerOff,
    Halt,
    /// Under `--root`: just exit.
    Exit,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reboot => "reboot",
            Self::PowerOff => "poweroff",
            Self::Halt => "halt",
            Self::Exit => "exit",
        })
    }
}

struct Signals {
    term: Option<Signal>,
    int: Option<Signal>,
    usr1: Option<Signal>,
    usr2: Option<Signal>,
    pid1: bool,
}

async fn recv(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Signals {
    fn new(pid1: bool) -> Self {
        let make = |k| signal(k).ok();
        Self {
            term: make(SignalKind::terminate()),
            int: make(SignalKind::interrupt()),
            usr1: make(SignalKind::user_defined1()),
            usr2: make(SignalKind::user_defined2()),
            pid1,
        }
    }

    /// The next shutdown request.
    async fn next(&mut self) -> Outcome {
        let o = tokio::select! {
            () = recv(&mut self.term) => Outcome::Reboot,
            () = recv(&mut self.int) => Outcome::Reboot,
            () = recv(&mut self.usr1) => Outcome::Halt,
            () = recv(&mut self.usr2) => Outcome::PowerOff,
        };
        if self.pid1 { o } else { Outcome::Exit }
    }
}

const HINT: &str = "Fix the configuration named above: edge.yaml is on the boot partition \
(EDGE-BOOT, readable from any laptop); `edgectl config validate edge.yaml` checks it. \
Then reboot the device.";

struct Init<'a, S> {
    opts: Options,
    sys: &'a S,
    status: BootStatus,
    boot_mounted: bool,
    layers: Vec<ParsedLayer>,
    report: Option<maintenance::Shared>,
    signals: Signals,
}

/// Boots: returns when a shutdown was asked for (never on its own).
pub async fn run<S: Platform + Network>(opts: Options, sys: &S) -> Outcome {
    let signals = Signals::new(opts.pid1);
    let mut init = Init {
        opts,
        sys,
        status: BootStatus::new(),
        boot_mounted: false,
        layers: Vec::new(),
        report: None,
        signals,
    };
    init.boot().await
}

/// The hostname of a device whose configuration names none: `edge-` and the
/// last three bytes of its first interface's MAC address (`edge-5e1f2a`), or
/// `edge` on a machine without one.
pub fn default_hostname(mac: Option<&str>) -> String {
    let hex: String = mac
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() < 6 || hex.chars().all(|c| c == '0') {
        return "edge".to_owned();
    }
    format!("edge-{}", &hex[hex.len() - 6..])
}

impl<S: Platform + Network> Init<'_, S> {
    fn act(&mut self, what: impl Into<String>) {
        let what = what.into();
        tracing::info!("{what}");
        self.status.actions.push(what);
    }

    fn save(&mut self) {
        self.status.updated = status::now();
        if let Some(r) = &self.report
            && let Ok(mut r) = r.write()
        {
            *r = serde_json::to_value(&self.status).unwrap_or_default();
        }
        if self.boot_mounted
            && let Err(e) = status::write(&self.opts.layout.status_dir(), &self.status)
        {
            tracing::warn!(error = %e, "cannot write the status to the boot partition");
        }
    }

    async fn boot(&mut self) -> Outcome {
        for a in self.sys.mount_api_filesystems() {
            self.act(a);
        }
        if !self.opts.pid1 {
            // Orphans of our children come to us, as they would to PID 1.
            let _ = nix::sys::prctl::set_child_subreaper(true);
        }
        if let Err(e) = self.partitions() {
            return self.maintenance(vec![e], false).await;
        }
        let config = match self.configuration() {
            Ok(c) => c,
            Err(errors) => return self.maintenance(errors, false).await,
        };
        if let Err(errors) = self.token(&config) {
            return self.maintenance(errors, false).await;
        }
        if let Err(errors) = self.network(&config) {
            return self.maintenance(errors, true).await;
        }
        let spec = match self.runtime(&config) {
            Ok(s) => s,
            Err(errors) => return self.maintenance(errors, true).await,
        };
        self.supervise(spec, &config).await
    }

    /// The boot partition (mounted) and the data partition (formatted when blank).
    fn partitions(&mut self) -> Result<(), Diagnostic> {
        let layout = self.opts.layout.clone();
        let part = |label: &str, message: String| Diagnostic::general(label, message);
        let boot = self
            .sys
            .find_partition(BOOT_LABEL)
            .map_err(|e| part(BOOT_LABEL, e.to_string()))?
            .ok_or_else(|| {
                part(
                    BOOT_LABEL,
                    "no partition with this label: is the image complete?".into(),
                )
            })?;
        self.sys
            .mount(&boot, &layout.boot_mount, "vfat")
            .map_err(|e| part(BOOT_LABEL, e.to_string()))?;
        self.boot_mounted = true;
        self.act(format!(
            "boot partition {} on {}",
            boot.display(),
            layout.boot_mount.display()
        ));

        let data = self
            .sys
            .find_partition(DATA_LABEL)
            .map_err(|e| part(DATA_LABEL, e.to_string()))?
            .ok_or_else(|| {
                part(
                    DATA_LABEL,
                    "no partition with this label: is the image complete?".into(),
                )
            })?;
        match self
            .sys
            .probe(&data)
            .map_err(|e| part(DATA_LABEL, e.to_string()))?
        {
            FsKind::Blank => {
                self.act(format!(
                    "{} is blank (first boot): formatting it ext4",
                    data.display()
                ));
                self.sys
                    .make_ext4(&data, DATA_LABEL)
                    .map_err(|e| part(DATA_LABEL, format!("cannot format: {e}")))?;
                self.act(format!("formatted {DATA_LABEL}"));
            }
            FsKind::Ext4 { .. } => {}
            other => {
                return Err(part(
                    DATA_LABEL,
                    format!(
                        "{} holds {other:?}, not ext4; it is never formatted over. \
                         Erase it (e.g. wipefs) if its content is not needed",
                        data.display()
                    ),
                ));
            }
        }
        self.sys
            .mount(&data, &layout.data_mount, "ext4")
            .map_err(|e| part(DATA_LABEL, e.to_string()))?;
        self.act(format!(
            "data partition {} on {}",
            data.display(),
            layout.data_mount.display()
        ));
        Ok(())
    }

    fn source(&mut self, path: &Path, layer: Layer) -> Result<Option<Input>, Diagnostic> {
        use sha2::Digest;
        match std::fs::read(path) {
            Ok(bytes) => {
                let name = path.display().to_string();
                self.status.sources.push(SourceStatus {
                    name: name.clone(),
                    layer: format!("{layer:?}").to_lowercase(),
                    sha256: Some(hex::encode(sha2::Sha256::digest(&bytes))),
                });
                Ok(Some(Input::yaml(name, layer, bytes)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Diagnostic::general(
                path.display().to_string(),
                format!("cannot read: {e}"),
            )),
        }
    }

    fn configuration(&mut self) -> Result<EdgeConfig, Vec<Diagnostic>> {
        let layout = self.opts.layout.clone();
        let mut inputs = Vec::new();
        let site = self
            .source(&layout.site_config, Layer::Site)
            .map_err(|d| vec![d])?;
        let device = self
            .source(&layout.edge_yaml(), Layer::Device)
            .map_err(|d| vec![d])?;
        if device.is_none() {
            self.act(format!(
                "no {} on the boot partition",
                layout.edge_yaml().display()
            ));
        }
        inputs.extend(site);
        inputs.extend(device);
        match self.sys.kernel_cmdline() {
            Ok(c) if c.split_whitespace().any(|a| a.starts_with("edge.")) => {
                self.status.sources.push(SourceStatus {
                    name: "kernel command line".into(),
                    layer: "cmdline".into(),
                    sha256: None,
                });
                inputs.push(Input::cmdline(c));
            }
            Ok(_) => {}
            Err(e) => self.act(format!("kernel command line not read: {e}")),
        }
        let loaded = load(&inputs);
        self.status.warnings = loaded.warnings().cloned().collect();
        for w in &self.status.warnings {
            tracing::warn!("{w}");
        }
        self.layers = loaded.layers.clone();
        let config = loaded.into_result().map_err(|d| d.0)?;
        self.status.role = Some(config.role.as_str().into());
        self.status.hostname = config.hostname().map(str::to_owned);
        self.act(format!("configuration valid: {}", config.role.as_str()));
        Ok(config)
    }

    /// Puts the token on the data partition (or checks the one there).
    fn token(&mut self, config: &EdgeConfig) -> Result<(), Vec<Diagnostic>> {
        let path = self.opts.layout.token_file();
        let here = |c: &EdgeConfig, key: &str, m: String| vec![c.diagnostic(&[key], m)];
        match &config.token {
            TokenSource::Inline { token, layer, .. } => {
                store_token(&path, token).map_err(|e| {
                    vec![Diagnostic::general(
                        DATA_LABEL,
                        format!("cannot store the token: {e}"),
                    )]
                })?;
                self.status.token = Some(match layer {
                    Layer::Site => "from the site config in the image".into(),
                    Layer::Device => "from edge.yaml; moved to the data partition".into(),
                    Layer::Cmdline => "from the kernel command line (not scrubbed there)".into(),
                });
            }
            TokenSource::File(p) => {
                let ok = std::fs::read_to_string(p).is_ok_and(|t| !t.trim().is_empty());
                if !ok {
                    return Err(here(
                        config,
                        "token-file",
                        format!("{} is missing, unreadable or empty", p.display()),
                    ));
                }
                self.status.token = Some(format!("from {}", p.display()));
            }
            TokenSource::Moved { sha256, .. } => {
                let stored = std::fs::read_to_string(&path).map_err(|_| {
                    here(
                        config,
                        "token-sha256",
                        format!(
                            "the token was moved to the data partition on an earlier boot, but {} \
                             is not there (was the data partition replaced or erased?); write \
                             `token: …` in place of token-sha256",
                            path.display()
                        ),
                    )
                })?;
                let token = <Token as edge_config::edge::Leaf>::parse(&stored).map_err(|e| {
                    here(
                        config,
                        "token-sha256",
                        format!("the stored token is unusable: {e}"),
                    )
                })?;
                if &token.sha256() != sha256 {
                    return Err(here(
                        config,
                        "token-sha256",
                        "the data partition holds a different token than the one this sha256 \
                         names (a data partition from another device?); write `token: …` in \
                         place of token-sha256"
                            .into(),
                    ));
                }
                self.status.token =
                    Some("on the data partition (edge.yaml holds its sha256)".into());
            }
            TokenSource::None => {
                self.status.token = Some("none given: a single server generates one".into());
            }
        }
        Ok(())
    }

    fn network(&mut self, config: &EdgeConfig) -> Result<(), Vec<Diagnostic>> {
        let mut errors = Vec::new();
        if let Err(e) = self.sys.loopback_up() {
            errors.push(Diagnostic::general("lo", e.to_string()));
        }
        if let Some(h) = config.hostname() {
            match self.sys.set_hostname(h) {
                Ok(()) => self.act(format!("hostname {h}")),
                Err(e) => errors.push(config.diagnostic(&["hostname"], e.to_string())),
            }
        } else {
            // A freshly flashed device has no name yet ("(none)"), and the
            // server's node name comes from it: derive one that stays the
            // same across reboots and differs between devices.
            let first = self.sys.interfaces().unwrap_or_default().into_iter().next();
            let mac = first.and_then(|i| self.sys.hardware_address(&i));
            let h = default_hostname(mac.as_deref());
            match self.sys.set_hostname(&h) {
                Ok(()) => {
                    self.act(format!("hostname {h} (none in the configuration)"));
                    self.status.hostname = Some(h);
                }
                Err(e) => errors.push(Diagnostic::general("hostname", e.to_string())),
            }
        }
        let hostname = self.status.hostname.clone();
        let mut dns = Vec::new();
        match &config.network {
            NetworkPlan::DhcpAll => {
                let names = self.sys.interfaces().unwrap_or_default();
                for n in names {
                    match self.sys.start_dhcp(&n, hostname.as_deref()) {
                        Ok(()) => self.act(format!("{n}: dhcp")),
                        // Without a network section, an interface without a
                        // DHCP server (a spare port) is not an error.
                        Err(e) => self.act(format!("{n}: dhcp failed: {e}")),
                    }
                }
            }
            NetworkPlan::Interfaces(list) => {
                for i in list {
                    let name = i.name.as_str();
                    let r = match &i.addressing {
                        Addressing::Dhcp => self.sys.start_dhcp(name, hostname.as_deref()),
                        Addressing::Static { address, gateway } => {
                            self.sys.configure_static(name, *address, *gateway)
                        }
                    };
                    match r {
                        Ok(()) => self.act(match &i.addressing {
                            Addressing::Dhcp => format!("{name}: dhcp"),
                            Addressing::Static { address, gateway } => format!(
                                "{name}: {address}{}",
                                gateway.map(|g| format!(" via {g}")).unwrap_or_default()
                            ),
                        }),
                        Err(e) => errors.push(config.diagnostic(&["network", name], e.to_string())),
                    }
                    dns.extend(i.dns.iter().copied());
                }
            }
        }
        if !dns.is_empty()
            && let Err(e) = self.sys.write_resolv_conf(&dns)
        {
            errors.push(config.diagnostic(&["network"], format!("dns: {e}")));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Writes the runtime config and checks it with the consumer's parser.
    fn runtime(&mut self, config: &EdgeConfig) -> Result<ChildSpec, Vec<Diagnostic>> {
        let layout = self.opts.layout.clone();
        let path = layout.runtime_config();
        let map = render::runtime_config(config, &layout.runtime_paths());
        let text = format!(
            "# Written by edged init from {}; changes are lost at reboot.\n{}",
            self.status
                .sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(" < "),
            render::to_yaml(&serde_json::Value::Object(map))
        );
        status::write_atomic(&path, text.as_bytes(), Some(0o600)).map_err(|e| {
            vec![Diagnostic::general(
                path.display().to_string(),
                e.to_string(),
            )]
        })?;
        self.act(format!("wrote {}", path.display()));
        let mut errors = Vec::new();
        for key in [
            "datastore-cafile",
            "datastore-certfile",
            "datastore-keyfile",
        ] {
            let file = match key {
                "datastore-cafile" => &config.file.datastore_cafile,
                "datastore-certfile" => &config.file.datastore_certfile,
                _ => &config.file.datastore_keyfile,
            };
            if let Some(f) = file
                && !f.0.0.is_file()
            {
                errors
                    .push(config.diagnostic(&[key], format!("{} does not exist", f.0.0.display())));
            }
        }
        match config.role {
            Role::Server => {
                let args = edge_config::server::ServerArgs {
                    config: Some(path.clone()),
                    ..Default::default()
                };
                if let Err(e) = args.resolve() {
                    errors.push(Diagnostic::general(
                        path.display().to_string(),
                        format!("edged server cannot run this configuration: {e}"),
                    ));
                }
            }
            Role::Agent => {
                let args = edge_config::agent::AgentArgs {
                    config: Some(path.clone()),
                    ..Default::default()
                };
                if let Err(e) = args.resolve() {
                    errors.push(Diagnostic::general(
                        path.display().to_string(),
                        format!("edged agent cannot run this configuration: {e}"),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let keep = ["EDGE_LOG_FORMAT", "EDGE_LOG_LEVEL"];
        let mut env: Vec<(String, String)> = vec![(
            "NOTIFY_SOCKET".into(),
            layout.notify_socket().display().to_string(),
        )];
        env.extend(
            std::env::vars().filter(|(k, _)| !k.starts_with("EDGE_") || keep.contains(&k.as_str())),
        );
        Ok(ChildSpec {
            program: self.opts.program.clone(),
            args: vec![
                config.role.as_str().into(),
                "--config".into(),
                path.display().to_string(),
            ],
            env,
        })
    }

    fn scrub(&mut self, config: &EdgeConfig) {
        let TokenSource::Inline {
            token,
            layer: Layer::Device,
            file,
        } = &config.token
        else {
            return;
        };
        let Some(layer) = self.layers.iter().find(|l| &l.source.name == file) else {
            return;
        };
        let (Some(text), Some(tree)) = (layer.text.as_ref().map(|t| t.expose()), &layer.tree)
        else {
            return;
        };
        let path = PathBuf::from(file);
        match scrub::scrub_file(&path, text, tree, token) {
            Ok(()) => {
                self.act(format!(
                    "replaced the token in {} by token-sha256 (the token is on the data partition)",
                    path.display()
                ));
                self.status.token =
                    Some("moved to the data partition; edge.yaml holds its sha256".into());
            }
            Err(e) => {
                tracing::warn!(error = %e, "the token stays in edge.yaml");
                self.status.token = Some(format!("still in edge.yaml: {e}"));
            }
        }
    }

    async fn supervise(&mut self, spec: ChildSpec, config: &EdgeConfig) -> Outcome {
        let reaper = Reaper::default();
        if let Err(e) = reaper.start() {
            tracing::error!(error = %e, "cannot reap children");
        }
        let listener = match notify::Listener::bind(&self.opts.layout.notify_socket()) {
            Ok(l) => Some(l),
            Err(e) => {
                self.act(format!(
                    "readiness unknown ({e}): the token stays in edge.yaml"
                ));
                None
            }
        };
        let mut backoff = Backoff::default();
        let mut scrubbed = false;
        let mut child_status = ChildStatus {
            command: spec.display(),
            ..ChildStatus::default()
        };
        loop {
            let child = match supervise::spawn(&spec) {
                Ok(c) => c,
                Err(e) => {
                    let delay = backoff.after_exit(Duration::ZERO);
                    child_status.last_exit = Some(e.to_string());
                    child_status.next_start_in_seconds = Some(delay.as_secs());
                    self.status.child = Some(child_status.clone());
                    self.status.mode = Mode::Starting;
                    self.save();
                    tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        o = self.signals.next() => return o,
                    }
                }
            };
            child_status.pid = Some(child.pid);
            child_status.starts += 1;
            child_status.ready = false;
            child_status.next_start_in_seconds = None;
            self.status.child = Some(child_status.clone());
            self.status.mode = Mode::Starting;
            self.act(format!("started {} (pid {})", spec.display(), child.pid));
            self.save();
            let ready = async {
                match &listener {
                    Some(l) => l.ready().await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(ready);
            let mut is_ready = false;
            let exit = loop {
                tokio::select! {
                    s = reaper.wait(child.pid) => break s,
                    () = &mut ready, if !is_ready => {
                        is_ready = true;
                        child_status.ready = true;
                        self.status.mode = Mode::Running;
                        self.status.errors.clear();
                        if !scrubbed {
                            scrubbed = true;
                            self.scrub(config);
                        }
                        self.status.child = Some(child_status.clone());
                        self.act(format!("{} is ready", spec.display()));
                        self.save();
                    }
                    o = self.signals.next() => {
                        self.status.mode = Mode::Stopping;
                        self.save();
                        let how = supervise::stop(&reaper, child.pid, self.opts.stop_timeout).await;
                        child_status.last_exit = Some(format!("stopped for {o}: {how}"));
                        child_status.pid = None;
                        self.status.child = Some(child_status.clone());
                        self.status.mode = Mode::Stopped;
                        self.act(format!("{} {how}", spec.display()));
                        self.save();
                        return o;
                    }
                }
            };
            let ran = child.started.elapsed();
            let delay = backoff.after_exit(ran);
            let tail = child.tail.lines();
            let last = format!(
                "{} {exit} after {} s{}",
                spec.display(),
                ran.as_secs(),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; its last lines:\n  {}", tail.join("\n  "))
                }
            );
            tracing::warn!("{last}; restarting in {} s", delay.as_secs());
            child_status.last_exit = Some(last);
            child_status.pid = None;
            child_status.ready = false;
            child_status.next_start_in_seconds = Some(delay.as_secs());
            self.status.child = Some(child_status.clone());
            self.status.mode = Mode::Starting;
            self.save();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                o = self.signals.next() => return o,
            }
        }
    }

    async fn maintenance(&mut self, errors: Vec<Diagnostic>, network_applied: bool) -> Outcome {
        self.status.mode = Mode::Maintenance;
        self.status.errors = errors;
        self.status.hint = Some(HINT.into());
        let listing: String = self
            .status
            .errors
            .iter()
            .map(|d| format!("  {d}\n"))
            .collect();
        let address = self.opts.status_address;
        eprintln!(
            "\n*** edged init: MAINTENANCE MODE: the device cannot start ***\n{listing}\n{HINT}\n\
             Status: https://{}:{}/v1-edge/status (self-signed certificate)\n",
            if address.ip().is_unspecified() {
                "DEVICE".to_owned()
            } else {
                address.ip().to_string()
            },
            address.port()
        );
        if !network_applied {
            // Be reachable anyway: DHCP on every interface.
            let _ = self.sys.loopback_up();
            for n in self.sys.interfaces().unwrap_or_default() {
                match self.sys.start_dhcp(&n, None) {
                    Ok(()) => self.act(format!("{n}: dhcp (maintenance)")),
                    Err(e) => self.act(format!("{n}: dhcp failed: {e}")),
                }
            }
        }
        let reaper = Reaper::default();
        if let Err(e) = reaper.start() {
            tracing::error!(error = %e, "cannot reap children");
        }
        let report: maintenance::Shared = Arc::new(RwLock::new(serde_json::Value::Null));
        self.report = Some(report.clone());
        self.save();
        let stop = CancellationToken::new();
        let mut names = vec!["localhost".to_owned()];
        names.extend(self.status.hostname.clone());
        let server = tokio::spawn(maintenance::serve(address, names, report, stop.clone()));
        let outcome = self.signals.next().await;
        stop.cancel();
        if let Ok(Err(e)) = server.await {
            tracing::error!(error = %e, "the status endpoint did not run");
        }
        outcome
    }
}

fn store_token(path: &Path, token: &Token) -> Result<(), super::BootError> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| super::BootError::io("cannot create", dir, e))?;
    }
    if std::fs::read_to_string(path).is_ok_and(|t| t.trim() == token.as_written().expose().as_str())
    {
        return Ok(());
    }
    status::write_atomic(
        path,
        format!("{}\n", token.as_written().expose()).as_bytes(),
        Some(0o600),
    )
}

/// As PID 1 after [`run`]: stop every remaining process, unmount the
/// partitions, sync, and reboot, power off or halt. Never returns.
pub fn finish(outcome: Outcome, layout: &Layout) -> ! {
    use nix::sys::reboot::{RebootMode, reboot};
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let everyone = Pid::from_raw(-1);
    let _ = kill(everyone, Signal::SIGTERM);
    std::thread::sleep(Duration::from_secs(2));
    let _ = kill(everyone, Signal::SIGKILL);
    nix::unistd::sync();
    for target in [&layout.data_mount, &layout.boot_mount] {
        if let Err(e) = nix::mount::umount2(target.as_path(), nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("edged init: unmount {}: {e}", target.display());
        }
    }
    nix::unistd::sync();
    let mode = match outcome {
        Outcome::PowerOff => RebootMode::RB_POWER_OFF,
        Outcome::Halt => RebootMode::RB_HALT_SYSTEM,
        Outcome::Reboot | Outcome::Exit => RebootMode::RB_AUTOBOOT,
    };
    let e = reboot(mode);
    eprintln!("edged init: {mode:?} failed: {e:?}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::default_hostname;

    #[test]
    fn a_device_without_a_hostname_is_named_after_its_mac() {
        assert_eq!(default_hostname(Some("52:54:00:12:34:56\n")), "edge-123456");
        assert_eq!(default_hostname(Some("DC:A6:32:0A:BC:DE")), "edge-0abcde");
        assert_eq!(default_hostname(Some("00:00:00:00:00:00")), "edge");
        assert_eq!(default_hostname(None), "edge");
    }
}
