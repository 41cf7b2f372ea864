//! The fuzzing harness's checks, shared by the cargo-fuzz target
//! (`runtime/fuzz/fuzz_targets/config_parse.rs`) and the bounded run in
//! `cargo test`. Not an API: it panics when a property does not hold.
//!
//! Owns the properties: no panic; an invalid configuration yields no config
//! and located errors; a valid one renders to YAML that validates again; the
//! token scrub never leaves the token in the file it edits.

use crate::render;
use crate::tree::Layer;
use crate::validate::{EdgeConfig, Input, Loaded, TokenSource, load};

/// Runs bytes through everything that reads a configuration, as a device
/// file and (if text) as a kernel command line, checking the properties.
pub fn exercise(data: &[u8]) -> Loaded {
    let loaded = load(&[Input::yaml("edge.yaml", Layer::Device, data.to_vec())]);
    check(data, &loaded, &[]);
    if let Some(c) = &loaded.config {
        round_trip(c, data);
    }
    scrub(&loaded);
    if let Ok(text) = std::str::from_utf8(data) {
        let l = load(&[Input::cmdline(text)]);
        check(data, &l, &[]);
    }
    loaded
}

/// The properties of one result; `secrets` must appear in no diagnostic.
pub fn check(input: &[u8], loaded: &Loaded, secrets: &[&str]) {
    let ctx = || {
        String::from_utf8_lossy(input)
            .chars()
            .take(400)
            .collect::<String>()
    };
    let errors = loaded.errors().count();
    assert_eq!(
        loaded.config.is_some(),
        errors == 0,
        "config and errors disagree for {:?}",
        ctx()
    );
    for d in &loaded.diagnostics {
        assert!(!d.file.is_empty(), "unlocated {d} for {:?}", ctx());
        if d.file.ends_with(".yaml") {
            assert!(
                d.line >= 1 && d.column >= 1,
                "no line in {d} for {:?}",
                ctx()
            );
        }
        let text = d.to_string();
        for s in secrets {
            assert!(!text.contains(s), "a secret in {text} for {:?}", ctx());
        }
    }
}

/// `render` output validates again.
pub fn round_trip(config: &EdgeConfig, input: &[u8]) {
    let yaml = render::to_yaml(&render::effective(config));
    let again = load(&[Input::yaml("rendered.yaml", Layer::Device, yaml.clone())]);
    assert!(
        again.errors().next().is_none(),
        "render does not validate: {:?}\nrendered:\n{yaml}\nfrom {:?}",
        again.errors().map(ToString::to_string).collect::<Vec<_>>(),
        String::from_utf8_lossy(input)
    );
}

/// The scrub either refuses or removes the token.
pub fn scrub(loaded: &Loaded) {
    let Some(config) = &loaded.config else {
        return;
    };
    let TokenSource::Inline { token, .. } = &config.token else {
        return;
    };
    let Some(layer) = loaded
        .layers
        .iter()
        .find(|l| l.source.layer == Layer::Device)
    else {
        return;
    };
    let (Some(text), Some(tree)) = (layer.text.as_ref().map(|t| t.expose()), &layer.tree) else {
        return;
    };
    if let Ok(out) = crate::scrub::scrub_text(text, tree, token) {
        assert!(!out.contains(token.as_written().expose().as_str()), "{out}");
        assert!(out.contains(&token.sha256()), "{out}");
    }
}
