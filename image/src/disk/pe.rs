//! PE/COFF section appending, to build a Unified Kernel Image from a
//! systemd EFI stub (`linuxx64.efi.stub`, `linuxaa64.efi.stub`): what
//! `objcopy --add-section ... --change-section-vma ...` does, in-process and
//! deterministic. Also reads section tables back for `inspect`.
//!
//! Owns: parsing the DOS/COFF/optional headers and section table, adding
//! section headers into the free room before `SizeOfHeaders`, appending raw
//! data at `FileAlignment`-aligned offsets, placing sections at increasing
//! virtual addresses aligned to `SectionAlignment` (at least 4 KiB), and
//! fixing `NumberOfSections`, `SizeOfImage`, `SizeOfInitializedData`,
//! `TimeDateStamp` (an argument) and `CheckSum` (computed with the standard
//! PE algorithm, so a checking loader accepts it and the bytes stay a pure
//! function of the inputs).
//!
//! Must not: move existing headers or sections (no room → error), sign, or
//! touch a signed stub (a certificate table → error; sign the UKI after),
//! accept empty sections (objcopy drops them and the stub misbehaves), or
//! panic on malformed input.

use super::DiskError;

const IMAGE_SCN_CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
const IMAGE_SCN_MEM_READ: u32 = 0x4000_0000;
const SECTION_HEADER_LEN: usize = 40;
const MIN_SECTION_ALIGN: u32 = 4096;
const PE32_MAGIC: u16 = 0x10B;
const PE32_PLUS_MAGIC: u16 = 0x20B;

/// One section as the section table describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeSection {
    pub name: String,
    pub virtual_address: u32,
    pub virtual_size: u32,
    pub raw_offset: u32,
    pub raw_size: u32,
    pub characteristics: u32,
}

/// Offsets and values of the headers this module reads or patches.
struct Headers {
    coff: usize,
    opt: usize,
    nsections: usize,
    section_table: usize,
    section_align: u32,
    file_align: u32,
    size_of_headers: u32,
    size_of_image: u32,
    /// Offset of the CheckSum field.
    checksum_at: usize,
    /// Size and offset of the Security (certificate table) data directory, if present.
    security: Option<(u32, u32)>,
    /// Every data directory as (RVA, size).
    directories: Vec<(u32, u32)>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, DiskError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| DiskError::Pe(format!("truncated: no 2 bytes at offset {at:#x}")))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, DiskError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| DiskError::Pe(format!("truncated: no 4 bytes at offset {at:#x}")))
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

fn parse_headers(pe: &[u8]) -> Result<Headers, DiskError> {
    if pe.get(0..2) != Some(b"MZ") {
        return Err(DiskError::Pe("no MZ signature at offset 0".into()));
    }
    let lfanew = u32_at(pe, 0x3C)? as usize;
    if pe.get(lfanew..lfanew + 4) != Some(b"PE\0\0") {
        return Err(DiskError::Pe(format!(
            "no PE\\0\\0 signature at offset {lfanew:#x} (e_lfanew)"
        )));
    }
    let coff = lfanew + 4;
    let nsections = u16_at(pe, coff + 2)? as usize;
    let opt_size = u16_at(pe, coff + 16)? as usize;
    let opt = coff + 20;
    let magic = u16_at(pe, opt)?;
    let dirs_at = match magic {
        PE32_PLUS_MAGIC => opt + 112,
        PE32_MAGIC => opt + 96,
        m => {
            return Err(DiskError::Pe(format!(
                "optional header magic {m:#x} at {opt:#x} is neither PE32 nor PE32+"
            )));
        }
    };
    let ndirs = u32_at(pe, dirs_at - 4)? as usize;
    if opt_size < dirs_at - opt || opt_size < dirs_at - opt + 8 * ndirs.min(16) {
        return Err(DiskError::Pe(format!(
            "SizeOfOptionalHeader {opt_size} too small for its {ndirs} data directories"
        )));
    }
    let directories = (0..ndirs.min(16))
        .map(|i| {
            Ok((
                u32_at(pe, dirs_at + 8 * i)?,
                u32_at(pe, dirs_at + 8 * i + 4)?,
            ))
        })
        .collect::<Result<Vec<_>, DiskError>>()?;
    let security = directories.get(4).copied();
    let section_table = opt + opt_size;
    let table_end = section_table + nsections * SECTION_HEADER_LEN;
    if table_end > pe.len() {
        return Err(DiskError::Pe(format!(
            "section table ({nsections} sections at {section_table:#x}) runs past the end"
        )));
    }
    let h = Headers {
        coff,
        opt,
        nsections,
        section_table,
        section_align: u32_at(pe, opt + 32)?,
        file_align: u32_at(pe, opt + 36)?,
        size_of_image: u32_at(pe, opt + 56)?,
        size_of_headers: u32_at(pe, opt + 60)?,
        checksum_at: opt + 64,
        security,
        directories,
    };
    let pow2 = |v: u32| v != 0 && v.is_power_of_two();
    if !pow2(h.section_align) || !pow2(h.file_align) || h.file_align < 512 || h.file_align > 65536 {
        return Err(DiskError::Pe(format!(
            "implausible alignments: SectionAlignment {:#x}, FileAlignment {:#x}",
            h.section_align, h.file_align
        )));
    }
    Ok(h)
}

fn read_sections(pe: &[u8], h: &Headers) -> Result<Vec<PeSection>, DiskError> {
    (0..h.nsections)
        .map(|i| {
            let at = h.section_table + i * SECTION_HEADER_LEN;
            let raw_name = &pe[at..at + 8];
            let end = raw_name.iter().position(|&b| b == 0).unwrap_or(8);
            Ok(PeSection {
                name: String::from_utf8_lossy(&raw_name[..end]).into_owned(),
                virtual_size: u32_at(pe, at + 8)?,
                virtual_address: u32_at(pe, at + 12)?,
                raw_size: u32_at(pe, at + 16)?,
                raw_offset: u32_at(pe, at + 20)?,
                characteristics: u32_at(pe, at + 36)?,
            })
        })
        .collect()
}

/// The section table of `pe`.
pub fn sections(pe: &[u8]) -> Result<Vec<PeSection>, DiskError> {
    let h = parse_headers(pe)?;
    read_sections(pe, &h)
}

/// The bytes of the first section called `name` (its raw data, cut to its
/// virtual size), e.g. `.osrel` or `.cmdline`; `None` if there is none.
pub fn section_data<'a>(pe: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, DiskError> {
    let Some(s) = sections(pe)?.into_iter().find(|s| s.name == name) else {
        return Ok(None);
    };
    let len = s.raw_size.min(if s.virtual_size == 0 {
        s.raw_size
    } else {
        s.virtual_size
    }) as usize;
    let start = s.raw_offset as usize;
    pe.get(start..start.saturating_add(len))
        .map(Some)
        .ok_or_else(|| {
            DiskError::Pe(format!(
                "section {name}: raw data at {start:#x}+{len:#x} runs past the end"
            ))
        })
}

/// The standard PE checksum: 16-bit one's-complement-style sum of the file
/// with the CheckSum field taken as zero, folded, plus the file length.
pub fn pe_checksum(pe: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in pe.chunks(2).enumerate() {
        let off = i * 2;
        if off == checksum_at || off == checksum_at + 2 {
            continue;
        }
        let w = u16::from_le_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u64::from(w);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    (sum + pe.len() as u64) as u32
}

/// A copy of `stub` with `sections` appended in the order given, each at the
/// next `max(SectionAlignment, 4 KiB)`-aligned virtual address after the
/// previous section's end, and the COFF TimeDateStamp set to `timestamp`.
pub fn add_sections(
    stub: &[u8],
    sections: &[(&str, &[u8])],
    timestamp: u32,
) -> Result<Vec<u8>, DiskError> {
    let h = parse_headers(stub)?;
    if let Some((addr, size)) = h.security
        && (addr != 0 || size != 0)
    {
        return Err(DiskError::Pe(format!(
            "the stub carries a certificate table ({size} bytes at {addr:#x}): add sections to an unsigned stub and sign the result"
        )));
    }
    let existing = read_sections(stub, &h)?;
    for s in &existing {
        if u64::from(s.raw_offset) + u64::from(s.raw_size) > stub.len() as u64 {
            return Err(DiskError::Pe(format!(
                "section {}: raw data {:#x}+{:#x} runs past the end of the stub ({:#x} bytes)",
                s.name,
                s.raw_offset,
                s.raw_size,
                stub.len()
            )));
        }
    }
    for (name, data) in sections {
        if name.is_empty() || name.len() > 8 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DiskError::Pe(format!(
                "section name {name:?} must be 1 to 8 printable ASCII bytes"
            )));
        }
        if data.is_empty() {
            return Err(DiskError::Pe(format!(
                "section {name} is empty: objcopy drops empty sections and the stub then misbehaves; pass at least one byte"
            )));
        }
        if existing.iter().any(|s| s.name == *name) {
            return Err(DiskError::Pe(format!(
                "the stub already has a section {name}"
            )));
        }
    }

    // Room for the new headers: after the table, before SizeOfHeaders and
    // before any section's raw data, and only zero bytes there.
    let table_end = h.section_table + h.nsections * SECTION_HEADER_LEN;
    let new_end = table_end + sections.len() * SECTION_HEADER_LEN;
    let first_raw = existing
        .iter()
        .filter(|s| s.raw_size > 0)
        .map(|s| s.raw_offset as usize)
        .min();
    let limit = (h.size_of_headers as usize).min(first_raw.unwrap_or(usize::MAX));
    if new_end > limit {
        return Err(DiskError::Pe(format!(
            "no room for {} more section headers: the table ends at {table_end:#x}, headers must end by {limit:#x} \
             (SizeOfHeaders {:#x}), {} bytes free, {} needed",
            sections.len(),
            h.size_of_headers,
            limit.saturating_sub(table_end),
            sections.len() * SECTION_HEADER_LEN
        )));
    }
    // The bytes there are header padding (zeros on x86_64 stubs, NOP fill on
    // the hand-made aarch64 header): free unless the entry point or a data
    // directory points into them (headers are mapped at RVA 0, so RVA = offset).
    let entry = u64::from(u32_at(stub, h.opt + 16)?);
    let (free0, free1) = (table_end as u64, new_end as u64);
    let in_free = |rva: u64, len: u64| rva < free1 && free0 < rva + len.max(1);
    if in_free(entry, 1)
        || h.directories
            .iter()
            .any(|&(rva, len)| rva != 0 && in_free(rva.into(), len.into()))
    {
        return Err(DiskError::Pe(format!(
            "bytes {table_end:#x}..{new_end:#x} after the section table are in use (entry point or a data directory)"
        )));
    }
    let nsections = u16::try_from(h.nsections + sections.len())
        .map_err(|_| DiskError::Pe("more than 65535 sections".into()))?;

    let va_align = u64::from(h.section_align.max(MIN_SECTION_ALIGN));
    let file_align = u64::from(h.file_align);
    let mut va = existing
        .iter()
        .map(|s| u64::from(s.virtual_address) + u64::from(s.virtual_size.max(s.raw_size)))
        .chain([u64::from(h.size_of_image)])
        .max()
        .unwrap_or(0);
    let raw_end = existing
        .iter()
        .map(|s| u64::from(s.raw_offset) + u64::from(s.raw_size))
        .max()
        .unwrap_or(0);
    let mut raw = align_up(raw_end.max(stub.len() as u64), file_align);

    let mut out = stub.to_vec();
    out.resize(
        usize::try_from(raw).map_err(|_| DiskError::Pe("image too large".into()))?,
        0,
    );
    let too_big = || DiskError::Pe("the image would exceed the 4 GiB PE limit".into());
    let mut added_init: u64 = 0;
    for (i, (name, data)) in sections.iter().enumerate() {
        va = align_up(va, va_align);
        let raw_size = align_up(data.len() as u64, file_align);
        let hdr = table_end + i * SECTION_HEADER_LEN;
        let mut name8 = [0u8; 8];
        name8[..name.len()].copy_from_slice(name.as_bytes());
        out[hdr..hdr + 8].copy_from_slice(&name8);
        put32(
            &mut out,
            hdr + 8,
            u32::try_from(data.len()).map_err(|_| too_big())?,
        );
        put32(
            &mut out,
            hdr + 12,
            u32::try_from(va).map_err(|_| too_big())?,
        );
        put32(
            &mut out,
            hdr + 16,
            u32::try_from(raw_size).map_err(|_| too_big())?,
        );
        put32(
            &mut out,
            hdr + 20,
            u32::try_from(raw).map_err(|_| too_big())?,
        );
        out[hdr + 24..hdr + 36].fill(0);
        put32(
            &mut out,
            hdr + 36,
            IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ,
        );
        out.extend_from_slice(data);
        out.resize(usize::try_from(raw + raw_size).map_err(|_| too_big())?, 0);
        raw += raw_size;
        va += data.len() as u64;
        added_init += raw_size;
    }
    let size_of_image =
        u32::try_from(align_up(va, u64::from(h.section_align))).map_err(|_| too_big())?;
    let init = u64::from(u32_at(&out, h.opt + 8)?) + added_init;
    out[h.coff + 2..h.coff + 4].copy_from_slice(&nsections.to_le_bytes());
    put32(&mut out, h.coff + 4, timestamp);
    put32(
        &mut out,
        h.opt + 8,
        u32::try_from(init).map_err(|_| too_big())?,
    );
    put32(&mut out, h.opt + 56, size_of_image);
    put32(&mut out, h.checksum_at, 0);
    let sum = pe_checksum(&out, h.checksum_at);
    put32(&mut out, h.checksum_at, sum);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal PE32+ (x86_64 EFI application shape): headers in
    /// `size_of_headers` bytes, one `.text` section of one file-alignment
    /// unit at VA max(SectionAlignment, 0x1000).
    pub(crate) fn tiny_pe(section_align: u32, file_align: u32, size_of_headers: u32) -> Vec<u8> {
        let mut b = vec![0u8; size_of_headers as usize];
        b[0..2].copy_from_slice(b"MZ");
        put32(&mut b, 0x3C, 0x80);
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        b[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
        b[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
        b[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        b[coff + 18..coff + 20].copy_from_slice(&0x0206u16.to_le_bytes());
        let opt = coff + 20;
        b[opt..opt + 2].copy_from_slice(&PE32_PLUS_MAGIC.to_le_bytes());
        put32(&mut b, opt + 4, file_align); // SizeOfCode
        put32(&mut b, opt + 16, 0x1000); // entry
        put32(&mut b, opt + 32, section_align);
        put32(&mut b, opt + 36, file_align);
        let text_va = section_align.max(0x1000);
        put32(&mut b, opt + 56, 2 * text_va); // SizeOfImage
        put32(&mut b, opt + 60, size_of_headers);
        b[opt + 68..opt + 70].copy_from_slice(&10u16.to_le_bytes()); // EFI application
        put32(&mut b, opt + 108, 16);
        let st = opt + 240;
        b[st..st + 5].copy_from_slice(b".text");
        put32(&mut b, st + 8, 0x10);
        put32(&mut b, st + 12, text_va);
        put32(&mut b, st + 16, file_align);
        put32(&mut b, st + 20, size_of_headers);
        put32(&mut b, st + 36, 0x6000_0020);
        b.extend(std::iter::repeat_n(0xC3, file_align as usize));
        b
    }

    #[test]
    fn appends_sections() {
        let stub = tiny_pe(0x1000, 0x200, 0x400);
        let linux = vec![0xAB; 5000];
        let out = add_sections(
            &stub,
            &[
                (".osrel", b"ID=edge\n"),
                (".cmdline", b"quiet"),
                (".linux", &linux),
            ],
            0x1234_5678,
        )
        .unwrap();
        assert_eq!(
            add_sections(
                &stub,
                &[
                    (".osrel", b"ID=edge\n"),
                    (".cmdline", b"quiet"),
                    (".linux", &linux)
                ],
                0x1234_5678
            )
            .unwrap(),
            out
        );
        let s = sections(&out).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [".text", ".osrel", ".cmdline", ".linux"]);
        assert_eq!((s[1].virtual_address, s[1].virtual_size), (0x2000, 8));
        assert_eq!(s[2].virtual_address, 0x3000);
        assert_eq!((s[3].virtual_address, s[3].virtual_size), (0x4000, 5000));
        for w in s.windows(2) {
            assert!(w[1].virtual_address >= w[0].virtual_address + w[0].virtual_size);
        }
        assert!(
            s[1..]
                .iter()
                .all(|s| s.raw_offset % 0x200 == 0 && s.raw_size % 0x200 == 0)
        );
        assert!(s[1..].iter().all(|s| s.characteristics == 0x4000_0040));
        assert_eq!(out.len() as u32, s[3].raw_offset + s[3].raw_size);
        assert_eq!(
            section_data(&out, ".osrel").unwrap(),
            Some(&b"ID=edge\n"[..])
        );
        assert_eq!(section_data(&out, ".linux").unwrap(), Some(&linux[..]));
        assert_eq!(section_data(&out, ".initrd").unwrap(), None);
        let opt = 0x84 + 20;
        assert_eq!(u32_at(&out, 0x84 + 4).unwrap(), 0x1234_5678);
        assert_eq!(u16_at(&out, 0x84 + 2).unwrap(), 4);
        assert_eq!(u32_at(&out, opt + 56).unwrap(), 0x4000 + 0x2000); // 5000 bytes -> two pages
        assert_eq!(u32_at(&out, opt + 8).unwrap(), 0x200 + 0x200 + 0x1400);
        assert_eq!(u32_at(&out, opt + 64).unwrap(), pe_checksum(&out, opt + 64));
        assert_ne!(u32_at(&out, opt + 64).unwrap(), 0);
    }

    #[test]
    fn vma_alignment_is_at_least_4k_and_follows_section_alignment() {
        let out = add_sections(
            &tiny_pe(0x200, 0x200, 0x400),
            &[(".a", b"x"), (".b", b"y")],
            0,
        )
        .unwrap();
        let s = sections(&out).unwrap();
        assert_eq!(
            (s[1].virtual_address, s[2].virtual_address),
            (0x2000, 0x3000)
        );
        let out = add_sections(
            &tiny_pe(0x10000, 0x1000, 0x1000),
            &[(".a", b"x"), (".b", b"y")],
            0,
        )
        .unwrap();
        let s = sections(&out).unwrap();
        assert_eq!(
            (s[1].virtual_address, s[2].virtual_address),
            (0x20000, 0x30000)
        );
        assert_eq!(s[1].raw_offset % 0x1000, 0);
    }

    #[test]
    fn refuses() {
        let stub = tiny_pe(0x1000, 0x200, 0x400);
        assert!(
            add_sections(&stub, &[(".cmdline", b"")], 0)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert!(add_sections(&stub, &[(".toolongname", b"x")], 0).is_err());
        assert!(add_sections(&stub, &[(".text", b"x")], 0).is_err());
        // 0x400 - (0x84+20+240+40 = 0x1B0) = 592 bytes: room for 14 headers, not 15.
        let many: Vec<(String, Vec<u8>)> = (0..15).map(|i| (format!(".s{i}"), vec![1])).collect();
        let many: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        assert!(add_sections(&stub, &many[..14], 0).is_ok());
        let e = add_sections(&stub, &many, 0).unwrap_err().to_string();
        assert!(e.contains("no room"), "{e}");
        let mut nops = stub.clone();
        for at in (0x1B0..0x400).step_by(4) {
            nops[at..at + 4].copy_from_slice(&0xD503_201Fu32.to_le_bytes());
        }
        assert!(
            add_sections(&nops, &[(".a", b"x")], 0).is_ok(),
            "header padding may hold anything"
        );
        let mut used = stub.clone();
        put32(&mut used, 0x84 + 20 + 112 + 8 * 6, 0x1C0); // debug directory in the free area
        put32(&mut used, 0x84 + 20 + 112 + 8 * 6 + 4, 0x1C);
        assert!(
            add_sections(&used, &[(".a", b"x")], 0)
                .unwrap_err()
                .to_string()
                .contains("in use")
        );
        let mut signed = stub.clone();
        put32(&mut signed, 0x84 + 20 + 112 + 32, 0x600);
        put32(&mut signed, 0x84 + 20 + 112 + 36, 0x100);
        assert!(
            add_sections(&signed, &[(".a", b"x")], 0)
                .unwrap_err()
                .to_string()
                .contains("certificate")
        );
    }

    #[test]
    fn readers_survive_garbage() {
        assert!(sections(b"").is_err());
        assert!(sections(b"MZ").is_err());
        let stub = add_sections(
            &tiny_pe(0x1000, 0x200, 0x400),
            &[(".osrel", b"ID=edge\n")],
            0,
        )
        .unwrap();
        for i in 0..0x400 {
            for cut in [false, true] {
                let mut b = stub.clone();
                b[i] ^= 0xFF;
                let b = if cut { &b[..i] } else { &b[..] };
                let _ = sections(b);
                let _ = section_data(b, ".osrel");
                let _ = add_sections(b, &[(".x", b"y")], 0);
            }
        }
    }
}
