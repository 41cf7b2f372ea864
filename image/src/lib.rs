//! `edge-image`: turns a board description and a site config into a
//! flashable, bootable, reproducible disk image.
//!
//! Layers, bottom up:
//! - pure: [`board`] (the board model parsed from `board-configs/*.toml`),
//!   [`plan`] (the texts and names an image is made of), [`site`] (the site
//!   config check), [`manifest`], [`tree`] (file trees for the initramfs and
//!   the root),
//!   [`disk`] (GPT, MBR, FAT, cpio, PE/UKI and kernel-module writers and
//!   readers over bytes), [`debian`]'s parsers (sources, InRelease, Packages);
//! - IO adapters: [`debian`]'s fetcher and cache, [`progress`];
//! - the role: [`build`] plans and writes an image, [`inspect`] reads one;
//! - `main` parses flags and prints.
//!
//! Must not depend on the device runtime (`edge-runtime`): the site config is
//! checked with [`edge_config`]'s validator, the one `edgectl config validate`
//! runs, and `edged` is a file the builder copies, never a library it links.

pub mod board;
pub mod build;
pub mod debian;
pub mod disk;
pub mod inspect;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod site;
pub mod tree;
