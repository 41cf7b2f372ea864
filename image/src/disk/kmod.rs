//! Kernel modules for the initramfs: read a `.ko`'s `.modinfo` (via
//! `object`), resolve the dependency closure of the modules an image asks
//! for, give a load order, and write `modules.dep` for the carried subset.
//!
//! Owns: modinfo parsing (`name`, `depends`, `vermagic`), module-name
//! normalisation (`-` and `_` are the same), the dependency graph (missing
//! dependencies named with who needs them, cycles reported), and the
//! `modules.dep` text in modprobe's format.
//!
//! Must not: read files (the caller hands bytes), decompress (`.ko.xz`,
//! `.ko.zst`, `.ko.gz` are refused with a clear error: Debian's 6.1 kernels
//! ship plain `.ko`), or panic on malformed modules.
//!
//! Load order: depth-first, dependencies before dependents, dependencies
//! visited in the order their `depends=` lists them and requested modules in
//! the order requested; a pure function of the inputs.
//! `modules.dep`: one line per carried module, in load order:
//! `path: dep...` with the module's full transitive dependencies listed in
//! reverse load order (the module loaded last first), as depmod writes them
//! and modprobe reads them (it loads the list from the end).

use std::collections::BTreeMap;

use object::{Object, ObjectSection};

use super::DiskError;

/// The kernel's canonical form of a module name: `-` becomes `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// What a module's `.modinfo` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    pub name: Option<String>,
    /// Normalised names, in the order `depends=` lists them.
    pub depends: Vec<String>,
    pub vermagic: Option<String>,
    /// Every `key=value` pair in section order (`alias`, `license`, ...).
    pub fields: Vec<(String, String)>,
}

/// Parse the contents of a `.modinfo` section: NUL-separated `key=value`
/// strings (runs of NULs, which alignment leaves, are skipped).
pub fn parse_modinfo(section: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for item in section.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let text = String::from_utf8_lossy(item);
        let Some((k, v)) = text.split_once('=') else {
            continue;
        };
        match k {
            "name" if info.name.is_none() => info.name = Some(v.to_string()),
            "depends" => {
                info.depends.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(normalize_name),
                );
            }
            "vermagic" if info.vermagic.is_none() => info.vermagic = Some(v.to_string()),
            _ => {}
        }
        info.fields.push((k.to_string(), v.to_string()));
    }
    info
}

fn compression(path: &str, bytes: &[u8]) -> Option<&'static str> {
    const KINDS: [(&str, &[u8], &str); 3] = [
        (".ko.xz", b"\xFD7zXZ\x00", "xz"),
        (".ko.zst", b"\x28\xB5\x2F\xFD", "zstd"),
        (".ko.gz", b"\x1F\x8B", "gzip"),
    ];
    KINDS
        .iter()
        .find(|(ext, magic, _)| path.ends_with(ext) || bytes.starts_with(magic))
        .map(|k| k.2)
}

/// The modinfo of a `.ko` file (`path` only for messages and the
/// compression check).
pub fn modinfo(path: &str, bytes: &[u8]) -> Result<ModInfo, DiskError> {
    let fail = |msg: String| DiskError::Module {
        module: path.to_string(),
        msg,
    };
    if let Some(kind) = compression(path, bytes) {
        return Err(fail(format!(
            "{kind}-compressed modules are not supported: use a kernel package with plain .ko files or decompress first"
        )));
    }
    let file = object::File::parse(bytes).map_err(|e| fail(format!("not an ELF object: {e}")))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or_else(|| fail("no .modinfo section".into()))?;
    let data = section
        .data()
        .map_err(|e| fail(format!("unreadable .modinfo section: {e}")))?;
    Ok(parse_modinfo(data))
}

/// One module handed to [`ModuleSet::new`].
#[derive(Clone, Copy, Debug)]
pub struct ModuleSource<'a> {
    /// Module name (normalised on the way in).
    pub name: &'a str,
    /// Path relative to `/lib/modules/<version>/`, e.g.
    /// `kernel/drivers/block/virtio_blk.ko`.
    pub path: &'a str,
    pub bytes: &'a [u8],
}

/// One module of a kernel, as the graph sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Normalised name.
    pub name: String,
    pub path: String,
    pub depends: Vec<String>,
    pub vermagic: Option<String>,
}

/// All of a kernel's modules, keyed by normalised name.
#[derive(Clone, Debug, Default)]
pub struct ModuleSet {
    modules: BTreeMap<String, Module>,
}

impl ModuleSet {
    /// Read every module's modinfo. A module whose `name=` disagrees with
    /// the name it is given under, or two modules under one name, is an error.
    pub fn new<'a>(
        sources: impl IntoIterator<Item = ModuleSource<'a>>,
    ) -> Result<ModuleSet, DiskError> {
        let mut set = ModuleSet::default();
        for s in sources {
            let info = modinfo(s.path, s.bytes)?;
            let name = normalize_name(s.name);
            if let Some(n) = &info.name
                && normalize_name(n) != name
            {
                return Err(DiskError::Module {
                    module: s.path.to_string(),
                    msg: format!("given as {name} but its modinfo says name={n}"),
                });
            }
            set.insert(Module {
                name,
                path: s.path.to_string(),
                depends: info.depends,
                vermagic: info.vermagic,
            })?;
        }
        Ok(set)
    }

    /// Add a module whose metadata is already known.
    pub fn insert(&mut self, mut m: Module) -> Result<(), DiskError> {
        m.name = normalize_name(&m.name);
        m.depends = m.depends.iter().map(|d| normalize_name(d)).collect();
        if let Some(old) = self.modules.get(&m.name) {
            return Err(DiskError::Module {
                module: m.name.clone(),
                msg: format!("two modules with this name: {} and {}", old.path, m.path),
            });
        }
        self.modules.insert(m.name.clone(), m);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Module> {
        self.modules.get(&normalize_name(name))
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The requested modules and all they depend on, dependencies first.
    pub fn load_order(&self, requested: &[&str]) -> Result<Vec<&Module>, DiskError> {
        let mut order = Vec::new();
        let mut state: BTreeMap<&str, bool> = BTreeMap::new(); // false: on the stack, true: done
        let mut stack: Vec<&str> = Vec::new();
        for r in requested {
            let m = self
                .get(r)
                .ok_or_else(|| DiskError::UnknownModule(normalize_name(r)))?;
            self.visit(m, &mut state, &mut stack, &mut order)?;
        }
        Ok(order)
    }

    fn visit<'s>(
        &'s self,
        m: &'s Module,
        state: &mut BTreeMap<&'s str, bool>,
        stack: &mut Vec<&'s str>,
        order: &mut Vec<&'s Module>,
    ) -> Result<(), DiskError> {
        match state.get(m.name.as_str()) {
            Some(true) => return Ok(()),
            Some(false) => {
                let from = stack.iter().position(|n| *n == m.name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[from..].iter().map(|s| s.to_string()).collect();
                cycle.push(m.name.clone());
                return Err(DiskError::ModuleCycle(cycle));
            }
            None => {}
        }
        state.insert(&m.name, false);
        stack.push(&m.name);
        for d in &m.depends {
            let dep = self
                .modules
                .get(d)
                .ok_or_else(|| DiskError::MissingModule {
                    missing: d.clone(),
                    needed_by: m.name.clone(),
                })?;
            self.visit(dep, state, stack, order)?;
        }
        stack.pop();
        state.insert(&m.name, true);
        order.push(m);
        Ok(())
    }

    /// `modules.dep` for exactly the modules in `load_order` (as returned by
    /// [`ModuleSet::load_order`]): a line per module, in load order, with its
    /// transitive dependencies in reverse load order.
    pub fn modules_dep(&self, load_order: &[&Module]) -> Result<String, DiskError> {
        let index: BTreeMap<&str, usize> = load_order
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        let mut out = String::new();
        for m in load_order {
            let mut deps: Vec<usize> = Vec::new();
            let mut todo: Vec<&str> = m.depends.iter().map(String::as_str).collect();
            while let Some(d) = todo.pop() {
                let i = *index.get(d).ok_or_else(|| DiskError::MissingModule {
                    missing: d.to_string(),
                    needed_by: m.name.clone(),
                })?;
                if !deps.contains(&i) {
                    deps.push(i);
                    todo.extend(load_order[i].depends.iter().map(String::as_str));
                }
            }
            deps.sort_unstable_by(|a, b| b.cmp(a));
            out.push_str(&m.path);
            out.push(':');
            for i in deps {
                out.push(' ');
                out.push_str(&load_order[i].path);
            }
            out.push('\n');
        }
        Ok(out)
    }
}

/// A kernel's modules: normalised name → (path relative to
/// `/lib/modules/<release>/`, bytes). See [`index`].
pub type ModuleFiles = BTreeMap<String, (String, Vec<u8>)>;

/// Index a kernel's `.ko` files (relative path, bytes) by normalised module
/// name, taken from the file name. Compressed modules and two files for one
/// name are errors.
pub fn index(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<ModuleFiles, DiskError> {
    let mut out = ModuleFiles::new();
    for (path, bytes) in files {
        let file = path.rsplit('/').next().unwrap_or(&path);
        if let Some(kind) = compression(&path, &[]) {
            return Err(DiskError::Module {
                module: path.clone(),
                msg: format!(
                    "{kind}-compressed modules are not supported: use a kernel package with plain .ko files"
                ),
            });
        }
        let Some(stem) = file.strip_suffix(".ko").filter(|s| !s.is_empty()) else {
            return Err(DiskError::Module {
                module: path.clone(),
                msg: "not a .ko file".into(),
            });
        };
        let name = normalize_name(stem);
        if let Some((other, _)) = out.get(&name) {
            return Err(DiskError::Module {
                module: name,
                msg: format!("two files for this module: {other} and {path}"),
            });
        }
        out.insert(name, (path, bytes));
    }
    Ok(out)
}

/// For the `requested` modules of a kernel indexed by [`index`]: the module
/// names of the closure in load order, and the `modules.dep` text for
/// exactly those. Only the modules reached are parsed, so an odd module
/// elsewhere in the kernel does not matter.
pub fn resolve(
    modules: &ModuleFiles,
    requested: &[impl AsRef<str>],
) -> Result<(Vec<String>, String), DiskError> {
    let mut set = ModuleSet::default();
    let mut queue: Vec<(String, Option<String>)> = requested
        .iter()
        .rev()
        .map(|r| (normalize_name(r.as_ref()), None))
        .collect();
    while let Some((name, needed_by)) = queue.pop() {
        if set.modules.contains_key(&name) {
            continue;
        }
        let Some((path, bytes)) = modules.get(&name) else {
            return Err(match needed_by {
                Some(by) => DiskError::MissingModule {
                    missing: name,
                    needed_by: by,
                },
                None => DiskError::UnknownModule(name),
            });
        };
        let info = modinfo(path, bytes)?;
        if let Some(n) = &info.name
            && normalize_name(n) != name
        {
            return Err(DiskError::Module {
                module: path.clone(),
                msg: format!("file name says {name}, modinfo says name={n}"),
            });
        }
        queue.extend(
            info.depends
                .iter()
                .rev()
                .map(|d| (d.clone(), Some(name.clone()))),
        );
        set.insert(Module {
            name,
            path: path.clone(),
            depends: info.depends,
            vermagic: info.vermagic,
        })?;
    }
    let names: Vec<&str> = requested.iter().map(AsRef::as_ref).collect();
    let order = set.load_order(&names)?;
    let dep = set.modules_dep(&order)?;
    Ok((order.iter().map(|m| m.name.clone()).collect(), dep))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF64 relocatable object with a `.modinfo`
    /// section holding `modinfo`, like a `.ko` as far as modinfo goes.
    pub(crate) fn tiny_ko(modinfo: &[u8]) -> Vec<u8> {
        let shstrtab = b"\0.modinfo\0.shstrtab\0";
        let mi_off = 64usize;
        let str_off = mi_off + modinfo.len();
        let sh_off = (str_off + shstrtab.len()).next_multiple_of(8);
        let mut b = vec![0u8; sh_off + 3 * 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        b[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[40..48].copy_from_slice(&(sh_off as u64).to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[58..60].copy_from_slice(&64u16.to_le_bytes());
        b[60..62].copy_from_slice(&3u16.to_le_bytes());
        b[62..64].copy_from_slice(&2u16.to_le_bytes());
        b[mi_off..str_off].copy_from_slice(modinfo);
        b[str_off..str_off + shstrtab.len()].copy_from_slice(shstrtab);
        let mut sh = |i: usize, name: u32, typ: u32, off: usize, size: usize| {
            let h = sh_off + 64 * i;
            b[h..h + 4].copy_from_slice(&name.to_le_bytes());
            b[h + 4..h + 8].copy_from_slice(&typ.to_le_bytes());
            b[h + 24..h + 32].copy_from_slice(&(off as u64).to_le_bytes());
            b[h + 32..h + 40].copy_from_slice(&(size as u64).to_le_bytes());
            b[h + 48..h + 56].copy_from_slice(&1u64.to_le_bytes());
        };
        sh(1, 1, 1, mi_off, modinfo.len()); // PROGBITS
        sh(2, 10, 3, str_off, shstrtab.len()); // STRTAB
        b
    }

    fn ko(name: &str, depends: &str) -> Vec<u8> {
        let mut mi =
            format!("alias=virtio:d00000002v*\0depends={depends}\0retpoline=Y\0name={name}\0")
                .into_bytes();
        mi.extend_from_slice(
            b"vermagic=6.1.0-31-cloud-amd64 SMP preempt mod_unload modversions \0\0\0",
        );
        tiny_ko(&mi)
    }

    fn path(name: &str) -> String {
        format!("kernel/drivers/{name}.ko")
    }

    /// The erofs-on-virtio set of the Debian 6.1 cloud kernel, with its real
    /// `depends=` lists.
    fn kernel() -> ModuleSet {
        let mods = [
            ("virtio_ring", ""),
            ("virtio", "virtio_ring"),
            ("virtio_pci_legacy_dev", ""),
            ("virtio_pci_modern_dev", ""),
            (
                "virtio_pci",
                "virtio_pci_modern_dev,virtio,virtio_ring,virtio_pci_legacy_dev",
            ),
            ("virtio_blk", "virtio,virtio_ring"),
            ("libcrc32c", ""),
            ("erofs", ""),
            ("failover", ""),
            ("net_failover", "failover"),
            ("virtio_net", "net_failover,virtio,virtio_ring"),
            ("unused-thing", "virtio"),
        ];
        let built: Vec<(String, String, Vec<u8>)> = mods
            .iter()
            .map(|(n, d)| (n.to_string(), path(n), ko(n, d)))
            .collect();
        ModuleSet::new(built.iter().map(|(n, p, b)| ModuleSource {
            name: n,
            path: p,
            bytes: b,
        }))
        .unwrap()
    }

    #[test]
    fn reads_modinfo_from_elf() {
        let info = modinfo("x.ko", &ko("virtio_blk", "virtio,virtio-ring")).unwrap();
        assert_eq!(info.name.as_deref(), Some("virtio_blk"));
        assert_eq!(info.depends, ["virtio", "virtio_ring"]);
        assert_eq!(
            info.vermagic.as_deref(),
            Some("6.1.0-31-cloud-amd64 SMP preempt mod_unload modversions ")
        );
        assert_eq!(info.fields.len(), 5);
        assert_eq!(
            modinfo("x.ko", &ko("erofs", "")).unwrap().depends,
            Vec::<String>::new()
        );
    }

    #[test]
    fn refuses_compressed_and_garbage() {
        let e = modinfo("kernel/fs/erofs/erofs.ko.xz", b"\xFD7zXZ\x00....")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("xz-compressed") && e.contains("erofs.ko.xz"),
            "{e}"
        );
        assert!(
            modinfo("a.ko", b"\x28\xB5\x2F\xFDxxxx")
                .unwrap_err()
                .to_string()
                .contains("zstd")
        );
        assert!(modinfo("a.ko", b"not elf").is_err());
        assert!(modinfo("a.ko", &tiny_ko(b"")).is_ok());
        let k = ko("a", "b");
        for i in 0..k.len() {
            let mut b = k.clone();
            b[i] ^= 0xFF;
            let _ = modinfo("a.ko", &b);
            let _ = modinfo("a.ko", &k[..i]);
        }
    }

    #[test]
    fn load_order_is_dependencies_first() {
        let k = kernel();
        let order: Vec<&str> = k
            .load_order(&["virtio-blk", "erofs", "virtio_pci"])
            .unwrap()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "virtio_ring",
                "virtio",
                "virtio_blk",
                "erofs",
                "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev",
                "virtio_pci"
            ]
        );
        // Requesting a module twice, or one already pulled in, changes nothing.
        let again: Vec<&str> = k
            .load_order(&["virtio-blk", "virtio", "erofs", "virtio_pci", "virtio_blk"])
            .unwrap()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(again, order);
    }

    #[test]
    fn modules_dep_format() {
        let k = kernel();
        let order = k
            .load_order(&["virtio_blk", "virtio_pci", "virtio_net"])
            .unwrap();
        let dep = k.modules_dep(&order).unwrap();
        let lines: Vec<&str> = dep.lines().collect();
        assert_eq!(lines[0], "kernel/drivers/virtio_ring.ko:");
        assert_eq!(
            lines[1],
            "kernel/drivers/virtio.ko: kernel/drivers/virtio_ring.ko"
        );
        assert_eq!(
            lines[2],
            "kernel/drivers/virtio_blk.ko: kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko"
        );
        let pci = lines
            .iter()
            .find(|l| l.starts_with("kernel/drivers/virtio_pci.ko:"))
            .unwrap();
        assert_eq!(
            *pci,
            "kernel/drivers/virtio_pci.ko: kernel/drivers/virtio_pci_legacy_dev.ko \
             kernel/drivers/virtio_pci_modern_dev.ko kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko"
        );
        let net = lines.last().unwrap();
        assert_eq!(
            *net,
            "kernel/drivers/virtio_net.ko: kernel/drivers/net_failover.ko kernel/drivers/failover.ko \
             kernel/drivers/virtio.ko kernel/drivers/virtio_ring.ko"
        );
        assert_eq!(lines.len(), order.len());
        assert!(dep.ends_with('\n'));
        assert!(!dep.contains("unused"));
    }

    #[test]
    fn missing_unknown_and_cycles() {
        let mut k = kernel();
        k.insert(Module {
            name: "needs-ghost".into(),
            path: "n.ko".into(),
            depends: vec!["ghost".into()],
            vermagic: None,
        })
        .unwrap();
        let e = k.load_order(&["needs_ghost"]).unwrap_err().to_string();
        assert!(e.contains("needs_ghost depends on ghost"), "{e}");
        assert!(
            k.load_order(&["nope"])
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
        for (n, d) in [("a", "b"), ("b", "c"), ("c", "a")] {
            k.insert(Module {
                name: n.into(),
                path: format!("{n}.ko"),
                depends: vec![d.into()],
                vermagic: None,
            })
            .unwrap();
        }
        let e = k.load_order(&["virtio", "a"]).unwrap_err();
        assert!(
            matches!(&e, DiskError::ModuleCycle(c) if c == &["a", "b", "c", "a"]),
            "{e}"
        );
        assert!(
            k.insert(Module {
                name: "a".into(),
                path: "x.ko".into(),
                depends: vec![],
                vermagic: None
            })
            .is_err()
        );
    }

    #[test]
    fn index_and_resolve() {
        let files: Vec<(String, Vec<u8>)> = [
            (
                "kernel/drivers/virtio/virtio_ring.ko",
                ko("virtio_ring", ""),
            ),
            (
                "kernel/drivers/virtio/virtio.ko",
                ko("virtio", "virtio_ring"),
            ),
            (
                "kernel/drivers/block/virtio_blk.ko",
                ko("virtio_blk", "virtio,virtio_ring"),
            ),
            ("kernel/fs/erofs/erofs.ko", ko("erofs", "")),
            ("kernel/junk/broken-one.ko", b"not an ELF at all".to_vec()),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_string(), b))
        .collect();
        let idx = index(files.clone()).unwrap();
        assert_eq!(idx["broken_one"].0, "kernel/junk/broken-one.ko");
        let (order, dep) = resolve(&idx, &["virtio-blk".to_string(), "erofs".to_string()]).unwrap();
        assert_eq!(order, ["virtio_ring", "virtio", "virtio_blk", "erofs"]);
        assert_eq!(
            dep,
            "kernel/drivers/virtio/virtio_ring.ko:\n\
             kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/fs/erofs/erofs.ko:\n"
        );
        let e = resolve(&idx, &["broken-one"]).unwrap_err().to_string();
        assert!(
            e.contains("broken-one.ko") && e.contains("not an ELF"),
            "{e}"
        );
        let e = resolve(&idx, &["nope"]).unwrap_err().to_string();
        assert!(e.contains("nope was requested"), "{e}");
        let mut no_ring = idx.clone();
        no_ring.remove("virtio_ring");
        let e = resolve(&no_ring, &["virtio_blk"]).unwrap_err().to_string();
        assert!(e.contains("virtio depends on virtio_ring"), "{e}");
        let mut dup = files.clone();
        dup.push(("kernel/other/virtio-ring.ko".into(), vec![]));
        assert!(index(dup).unwrap_err().to_string().contains("two files"));
        assert!(
            index([("kernel/fs/erofs/erofs.ko.zst".to_string(), vec![])])
                .unwrap_err()
                .to_string()
                .contains("zstd")
        );
    }

    #[test]
    fn name_mismatch_is_refused() {
        let b = ko("virtio_blk", "");
        let e = ModuleSet::new([ModuleSource {
            name: "virtio-net",
            path: "v.ko",
            bytes: &b,
        }])
        .unwrap_err();
        assert!(e.to_string().contains("name=virtio_blk"), "{e}");
        assert!(
            ModuleSet::new([ModuleSource {
                name: "virtio-blk",
                path: "v.ko",
                bytes: &b
            }])
            .is_ok()
        );
    }
}
