//! ELF identification: which machine an executable is built for and whether
//! it is statically linked (no `PT_INTERP`), so the builder can refuse a
//! `--runtime` binary built for the wrong board or needing a dynamic loader
//! the image does not carry.
//!
//! Owns: reading the ELF file header and program headers (via `object`).
//!
//! Must not: execute or load anything, or panic on malformed input.

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

use super::DiskError;

/// The machine an ELF file is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfArch {
    X86_64,
    Aarch64,
    /// Any other `e_machine` value.
    Other(u16),
}

impl std::fmt::Display for ElfArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ElfArch::X86_64 => f.write_str("x86_64"),
            ElfArch::Aarch64 => f.write_str("aarch64"),
            ElfArch::Other(m) => write!(f, "ELF machine {m:#x}"),
        }
    }
}

impl ElfArch {
    fn from_machine(m: u16) -> ElfArch {
        match m {
            elf::EM_X86_64 => ElfArch::X86_64,
            elf::EM_AARCH64 => ElfArch::Aarch64,
            m => ElfArch::Other(m),
        }
    }
}

/// What [`inspect`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub arch: ElfArch,
    /// 64-bit ELF class.
    pub is_64: bool,
    /// `e_type` is `ET_EXEC` or `ET_DYN` (a program, or a PIE / shared object).
    pub is_executable: bool,
    /// No `PT_INTERP`: runs without a dynamic loader (static or static-pie).
    pub static_binary: bool,
}

fn info_of<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfInfo, DiskError> {
    let err = |e: object::read::Error| DiskError::Elf(e.to_string());
    let h = H::parse(data).map_err(err)?;
    let endian = h.endian().map_err(err)?;
    let phdrs = h.program_headers(endian, data).map_err(err)?;
    let e_type = h.e_type(endian);
    Ok(ElfInfo {
        arch: ElfArch::from_machine(h.e_machine(endian)),
        is_64: h.is_class_64(),
        is_executable: e_type == elf::ET_EXEC || e_type == elf::ET_DYN,
        static_binary: !phdrs.iter().any(|p| p.p_type(endian) == elf::PT_INTERP),
    })
}

/// Machine, class, type and linkage of an ELF file.
pub fn inspect(bytes: &[u8]) -> Result<ElfInfo, DiskError> {
    match bytes.get(..5) {
        Some([0x7F, b'E', b'L', b'F', c]) => match *c {
            elf::ELFCLASS64 => info_of::<elf::FileHeader64<Endianness>>(bytes),
            elf::ELFCLASS32 => info_of::<elf::FileHeader32<Endianness>>(bytes),
            c => Err(DiskError::Elf(format!("unknown ELF class {c} at byte 4"))),
        },
        _ => Err(DiskError::Elf(
            "not an ELF file (no \\x7fELF magic at byte 0)".into(),
        )),
    }
}

/// The machine an ELF file is built for.
pub fn elf_arch(bytes: &[u8]) -> Result<ElfArch, DiskError> {
    Ok(inspect(bytes)?.arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian ELF64 executable header with `phdrs` program header types.
    fn tiny_elf(machine: u16, phdrs: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * phdrs.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little-endian
        b[6] = 1; // version
        b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        b[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        b[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        for (i, t) in phdrs.iter().enumerate() {
            b[64 + 56 * i..68 + 56 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    #[test]
    fn arch_and_linkage() {
        let s = tiny_elf(elf::EM_AARCH64, &[elf::PT_LOAD]);
        assert_eq!(elf_arch(&s).unwrap(), ElfArch::Aarch64);
        let i = inspect(&s).unwrap();
        assert!(i.static_binary && i.is_64 && i.is_executable);
        let d = tiny_elf(
            elf::EM_X86_64,
            &[elf::PT_PHDR, elf::PT_INTERP, elf::PT_LOAD],
        );
        let i = inspect(&d).unwrap();
        assert_eq!(i.arch, ElfArch::X86_64);
        assert!(!i.static_binary);
        assert_eq!(elf_arch(&tiny_elf(40, &[])).unwrap(), ElfArch::Other(40));
        assert_eq!(ElfArch::Other(40).to_string(), "ELF machine 0x28");
        assert_eq!(ElfArch::Aarch64.to_string(), "aarch64");
    }

    #[test]
    fn this_test_binary() {
        // The running test binary is a real, dynamically linked ELF of the host.
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let i = inspect(&exe).unwrap();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(i.arch, ElfArch::X86_64);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(i.arch, ElfArch::Aarch64);
        assert!(!i.static_binary);
    }

    #[test]
    fn rejects_garbage() {
        assert!(elf_arch(b"").is_err());
        assert!(elf_arch(b"MZ\0\0\0\0").is_err());
        assert!(elf_arch(b"\x7fELF\x03").is_err());
        let s = tiny_elf(elf::EM_X86_64, &[elf::PT_LOAD]);
        for n in 0..s.len() {
            let _ = inspect(&s[..n]);
            let mut b = s.clone();
            b[n] ^= 0xFF;
            let _ = inspect(&b);
        }
    }
}
