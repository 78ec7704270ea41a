//! Checking a plugin library's ELF structure before the dynamic loader sees it.
//!
//! The dynamic loader trusts the file it maps: a library cut short maps pages past the end of the
//! file and the first touch kills the process with SIGBUS; a corrupt dynamic section trips an
//! assertion inside ld.so, which ends the process. So before a library is loaded, this module
//! checks, on the bytes that will be loaded, that
//! - it is a 64-bit ELF shared object for this machine and byte order;
//! - its program header table, every loadable segment and the dynamic section lie inside the file;
//! - every table the dynamic section points to (strings, symbols, hashes, relocations, versions,
//!   initialisers) lies inside a loaded, file-backed segment, with the entry sizes and relocation
//!   kind this machine's loader asserts on, and every name it refers to is inside the string table.
//!
//! Parsing is `object`'s (the gimli project's ELF reader, used by the standard library's own
//! backtraces); it never panics on malformed input and bounds-checks every access. What static
//! checks cannot see (damaged code, a damaged hash table) is left to the probe process
//! (`probe.rs`).

use object::elf;
use object::read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _};
use object::{Endian as _, Endianness};

type FileHeader = elf::FileHeader64<Endianness>;

/// The ELF machine this build of eidos runs on.
#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: u16 = elf::EM_X86_64;
/// The ELF machine this build of eidos runs on.
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: u16 = elf::EM_AARCH64;

/// Size of an `Elf64_Sym`, `Elf64_Rela` and a RELR entry: the loader asserts on these.
const SYM_SIZE: u64 = 24;
const RELA_SIZE: u64 = 24;
const RELR_SIZE: u64 = 8;

/// Why a file is not a loadable shared library.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// Not an ELF file at all.
    #[error("not an ELF file")]
    NotElf,
    /// An ELF file, but not a shared library for this machine.
    #[error("{0}")]
    WrongKind(String),
    /// Cut short or corrupt.
    #[error("truncated or corrupt ELF file: {0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> ElfError {
    ElfError::Corrupt(what.into())
}

/// A loadable segment's addresses.
#[derive(Debug, Clone, Copy)]
struct Load {
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

/// Checks that `bytes` are a well-formed shared library for this machine (see the module doc).
pub fn check(bytes: &[u8]) -> Result<(), ElfError> {
    if !bytes.starts_with(&elf::ELFMAG) {
        return Err(ElfError::NotElf);
    }
    let header = FileHeader::parse(bytes).map_err(|e| {
        ElfError::WrongKind(format!(
            "unsupported ELF header: {e} (expected a 64-bit ELF shared library)"
        ))
    })?;
    let endian = header
        .endian()
        .map_err(|e| ElfError::WrongKind(e.to_string()))?;
    if !header.is_class_64() {
        return Err(ElfError::WrongKind(
            "a 32-bit ELF file; this eidos loads 64-bit libraries".to_owned(),
        ));
    }
    if endian.is_little_endian() != cfg!(target_endian = "little") {
        return Err(ElfError::WrongKind(
            "built for the other byte order".to_owned(),
        ));
    }
    let machine = header.e_machine(endian);
    if machine != HOST_MACHINE {
        return Err(ElfError::WrongKind(format!(
            "built for ELF machine {machine}, this machine is {HOST_MACHINE}"
        )));
    }
    if header.e_type(endian) != elf::ET_DYN {
        return Err(ElfError::WrongKind(format!(
            "ELF type {} is not a shared library (ET_DYN)",
            header.e_type(endian)
        )));
    }
    let phdrs = header.program_headers(endian, bytes).map_err(|e| {
        corrupt(format!(
            "the program header table lies outside the file ({e})"
        ))
    })?;
    // Not needed by the loader, but a file whose section headers are cut off was cut short.
    header.section_headers(endian, bytes).map_err(|e| {
        corrupt(format!(
            "the section header table lies outside the file ({e})"
        ))
    })?;
    let mut loads: Vec<Load> = Vec::new();
    let mut dynamic = None;
    for (i, ph) in phdrs.iter().enumerate() {
        let (offset, filesz) = ph.file_range(endian);
        let in_file = offset
            .checked_add(filesz)
            .is_some_and(|end| end <= bytes.len() as u64);
        match ph.p_type(endian) {
            elf::PT_LOAD => {
                if !in_file {
                    return Err(corrupt(format!(
                        "loadable segment {i} (file bytes {offset:#x}+{filesz:#x}) lies outside the file ({} bytes)",
                        bytes.len()
                    )));
                }
                let load = Load {
                    offset,
                    vaddr: ph.p_vaddr(endian),
                    filesz,
                    memsz: ph.p_memsz(endian),
                };
                if load.filesz > load.memsz || load.vaddr.checked_add(load.memsz).is_none() {
                    return Err(corrupt(format!(
                        "loadable segment {i} has impossible sizes"
                    )));
                }
                let align = ph.p_align(endian);
                if align > 1
                    && (!align.is_power_of_two() || load.vaddr.wrapping_sub(offset) % align != 0)
                {
                    return Err(corrupt(format!("loadable segment {i} is misaligned")));
                }
                if loads.last().is_some_and(|prev| prev.vaddr > load.vaddr) {
                    return Err(corrupt("loadable segments are out of order"));
                }
                loads.push(load);
            }
            elf::PT_DYNAMIC => {
                if dynamic.is_some() {
                    return Err(corrupt("more than one dynamic section"));
                }
                if !in_file {
                    return Err(corrupt(format!(
                        "the dynamic section (file bytes {offset:#x}+{filesz:#x}) lies outside the file ({} bytes)",
                        bytes.len()
                    )));
                }
                dynamic = Some(ph);
            }
            _ => {}
        }
    }
    if loads.is_empty() {
        return Err(corrupt("no loadable segment"));
    }
    let Some(dynamic_ph) = dynamic else {
        return Err(ElfError::WrongKind(
            "no dynamic section: not a shared library".to_owned(),
        ));
    };
    let inside = |addr: u64, size: u64| file_bytes(bytes, &loads, addr, size).is_some();
    // The loader reads the dynamic section from the mapped image, not from the file.
    if !inside(dynamic_ph.p_vaddr(endian), dynamic_ph.p_filesz(endian)) {
        return Err(corrupt(
            "the dynamic section is not inside a loaded segment",
        ));
    }
    let entries = dynamic_ph
        .dynamic(endian, bytes)
        .map_err(|e| corrupt(e.to_string()))?
        .unwrap_or_default();
    check_dynamic(entries, endian, bytes, &loads, &inside)
}

/// The dynamic-section checks: tables inside loaded segments, entry sizes, names inside the
/// string table.
fn check_dynamic(
    entries: &[elf::Dyn64<Endianness>],
    endian: Endianness,
    bytes: &[u8],
    loads: &[Load],
    inside: &dyn Fn(u64, u64) -> bool,
) -> Result<(), ElfError> {
    let Some(end) = entries.iter().position(|d| d.d_tag(endian) == elf::DT_NULL) else {
        return Err(corrupt("the dynamic section has no terminating entry"));
    };
    let entries = &entries[..end];
    let value = |tag: i64| {
        entries
            .iter()
            .rev()
            .find(|d| d.d_tag(endian) == tag)
            .map(|d| d.d_val(endian))
    };
    for (name, addr_tag, size_tag) in [
        ("string table", elf::DT_STRTAB, Some(elf::DT_STRSZ)),
        ("relocation table", elf::DT_RELA, Some(elf::DT_RELASZ)),
        (
            "PLT relocation table",
            elf::DT_JMPREL,
            Some(elf::DT_PLTRELSZ),
        ),
        (
            "relative relocation table",
            elf::DT_RELR,
            Some(elf::DT_RELRSZ),
        ),
        (
            "initialiser array",
            elf::DT_INIT_ARRAY,
            Some(elf::DT_INIT_ARRAYSZ),
        ),
        (
            "finaliser array",
            elf::DT_FINI_ARRAY,
            Some(elf::DT_FINI_ARRAYSZ),
        ),
        ("symbol table", elf::DT_SYMTAB, None),
        ("hash table", elf::DT_HASH, None),
        ("GNU hash table", elf::DT_GNU_HASH, None),
        ("symbol versions", elf::DT_VERSYM, None),
        ("version needs", elf::DT_VERNEED, None),
        ("version definitions", elf::DT_VERDEF, None),
    ] {
        let Some(addr) = value(addr_tag) else {
            continue;
        };
        let size = size_tag.and_then(value).unwrap_or(1);
        if !inside(addr, size) {
            return Err(corrupt(format!(
                "the {name} ({addr:#x}+{size:#x}) is not inside a loaded segment"
            )));
        }
    }
    for (name, addr_tag) in [("initialiser", elf::DT_INIT), ("finaliser", elf::DT_FINI)] {
        if let Some(addr) = value(addr_tag) {
            if !loads
                .iter()
                .any(|l| addr >= l.vaddr && addr < l.vaddr + l.memsz)
            {
                return Err(corrupt(format!(
                    "the {name} ({addr:#x}) is not inside a loaded segment"
                )));
            }
        }
    }
    for (name, tag, expected) in [
        ("symbol", elf::DT_SYMENT, SYM_SIZE),
        ("relocation", elf::DT_RELAENT, RELA_SIZE),
        ("relative relocation", elf::DT_RELRENT, RELR_SIZE),
    ] {
        if let Some(size) = value(tag) {
            if size != expected {
                return Err(corrupt(format!(
                    "{name} entries of {size} bytes (expected {expected})"
                )));
            }
        }
    }
    // This machine's loader supports RELA relocations only, and asserts on anything else.
    if value(elf::DT_REL).is_some()
        || value(elf::DT_PLTREL).is_some_and(|v| v != elf::DT_RELA as u64)
    {
        return Err(corrupt("REL relocations (this machine uses RELA)"));
    }
    let strings = match (value(elf::DT_STRTAB), value(elf::DT_STRSZ)) {
        (Some(addr), Some(size)) => file_bytes(bytes, loads, addr, size),
        (None, None) => Some(&[][..]),
        _ => None,
    }
    .ok_or_else(|| corrupt("the string table is incomplete"))?;
    for d in entries {
        let tag = d.d_tag(endian);
        if [
            elf::DT_NEEDED,
            elf::DT_SONAME,
            elf::DT_RPATH,
            elf::DT_RUNPATH,
        ]
        .contains(&tag)
        {
            let offset = usize::try_from(d.d_val(endian)).unwrap_or(usize::MAX);
            let terminated = strings.get(offset..).is_some_and(|rest| rest.contains(&0));
            if !terminated {
                return Err(corrupt(format!(
                    "a library name at string offset {offset:#x} is outside the string table"
                )));
            }
        }
    }
    Ok(())
}

/// The file bytes behind the virtual address range `addr..addr + size`, if one loaded segment's
/// file-backed part holds all of it.
fn file_bytes<'a>(bytes: &'a [u8], loads: &[Load], addr: u64, size: u64) -> Option<&'a [u8]> {
    let end = addr.checked_add(size)?;
    let load = loads
        .iter()
        .find(|l| addr >= l.vaddr && end <= l.vaddr + l.filesz)?;
    let start = usize::try_from(load.offset + (addr - load.vaddr)).ok()?;
    bytes.get(start..start.checked_add(usize::try_from(size).ok()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_an_elf_library_is_refused_by_name() {
        assert_eq!(check(b"this is not an ELF file"), Err(ElfError::NotElf));
        assert_eq!(check(b""), Err(ElfError::NotElf));
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(&elf::ELFMAG);
        header[4] = elf::ELFCLASS64;
        header[5] = elf::ELFDATA2LSB;
        header[6] = elf::EV_CURRENT;
        assert!(matches!(check(&header[..20]), Err(ElfError::WrongKind(_))));
        assert!(matches!(check(&header), Err(ElfError::WrongKind(_))));
    }

    #[test]
    fn this_test_executable_passes_the_structure_checks_but_truncations_do_not() {
        // Test executables are position-independent (ET_DYN), with the same program headers and
        // dynamic section as a library: a real, built ELF file to check, and to cut short.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if check(&exe)
            == Err(ElfError::WrongKind(
                "ELF type 2 is not a shared library (ET_DYN)".into(),
            ))
        {
            eprintln!("NOT RUN: this test executable is not position-independent");
            return;
        }
        assert_eq!(check(&exe), Ok(()));
        for len in [exe.len() / 2, exe.len() / 3, 4096, 100] {
            let err = check(&exe[..len]).unwrap_err();
            assert!(matches!(err, ElfError::Corrupt(_)), "{len}: {err}");
        }
        let err = check(&exe[..exe.len() / 2]).unwrap_err().to_string();
        assert!(err.contains("lies outside the file"), "{err}");
    }

    mod fuzz {
        //! The structure check under damaged input: truncations and byte flips of a real ELF file
        //! (this test executable) never panic, and a truncated file is always refused.
        use super::*;
        use proptest::prelude::*;
        use std::sync::{Mutex, OnceLock};

        fn exe() -> &'static Mutex<Vec<u8>> {
            static EXE: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
            EXE.get_or_init(|| Mutex::new(std::fs::read(std::env::current_exe().unwrap()).unwrap()))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn damaged_files_never_panic(
                cut in 0u32..1_000_000,
                flips in proptest::collection::vec((0u32..1_000_000, 1u8..=255, any::<bool>()), 0..16),
            ) {
                let mut bytes = exe().lock().unwrap_or_else(|e| e.into_inner());
                // Flips are placed either anywhere or in the first 64 KiB, where the headers are.
                let place = |at: u32, head: bool, len: usize| {
                    let span = if head { len.min(64 * 1024) } else { len };
                    (span as u64 * u64::from(at) / 1_000_000) as usize
                };
                let len = bytes.len();
                for &(at, xor, head) in &flips {
                    bytes[place(at, head, len)] ^= xor;
                }
                let whole = check(&bytes);
                let end = (len as u64 * u64::from(cut) / 1_000_000) as usize;
                let truncated = check(&bytes[..end]);
                for &(at, xor, head) in flips.iter().rev() {
                    bytes[place(at, head, len)] ^= xor;
                }
                drop(bytes);
                prop_assert!(truncated.is_err(), "a cut at {end} of {len} bytes passed");
                let _ = whole;
            }
        }
    }
}
