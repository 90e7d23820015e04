//! `struct kld_file_stat` and `struct module_stat`, byte-exact (pure).

use crate::error::{Error, Op, Result};
use sysabi::ErrorKind;

/// `MAXPATHLEN`: size of the name buffers of `kld_file_stat`.
pub const MAXPATHLEN: usize = 1024;
/// `MAXMODNAMEV3`: size of `module_stat.name`.
pub const MAXMODNAME: usize = 1024;
/// `LINKER_UNLOAD_NORMAL`.
pub const LINKER_UNLOAD_NORMAL: i32 = 0;
/// `LINKER_UNLOAD_FORCE`.
pub const LINKER_UNLOAD_FORCE: i32 = 1;

/// `struct kld_file_stat` (version 2). The caller must set `version` to its size, else the
/// kernel answers `EINVAL`.
#[repr(C)]
#[derive(Clone)]
pub struct KldFileStat {
    /// `version` = `size_of::<KldFileStat>()`.
    pub version: i32,
    /// File name (`linux64.ko`).
    pub name: [u8; MAXPATHLEN],
    /// References.
    pub refs: i32,
    /// File id.
    pub id: i32,
    /// Load address (`caddr_t`).
    pub address: usize,
    /// Size in bytes.
    pub size: usize,
    /// Full path (`/boot/kernel/linux64.ko`).
    pub pathname: [u8; MAXPATHLEN],
}

/// `struct module_stat` (version 3). `version` must hold its size.
#[repr(C)]
#[derive(Clone)]
pub struct ModuleStat {
    /// `version` = `size_of::<ModuleStat>()`.
    pub version: i32,
    /// Module name (`linuxelf64`).
    pub name: [u8; MAXMODNAME],
    /// References.
    pub refs: i32,
    /// Module id.
    pub id: i32,
    /// `modspecific_t`, an 8-byte union.
    pub data: u64,
}

impl Default for KldFileStat {
    fn default() -> Self {
        KldFileStat {
            version: std::mem::size_of::<KldFileStat>() as i32,
            name: [0; MAXPATHLEN],
            refs: 0,
            id: 0,
            address: 0,
            size: 0,
            pathname: [0; MAXPATHLEN],
        }
    }
}

impl Default for ModuleStat {
    fn default() -> Self {
        ModuleStat {
            version: std::mem::size_of::<ModuleStat>() as i32,
            name: [0; MAXMODNAME],
            refs: 0,
            id: 0,
            data: 0,
        }
    }
}

/// Text up to the first NUL.
pub fn c_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Checks a file or module name before it becomes a C string: non-empty, no NUL, shorter than
/// `MAXPATHLEN`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`].
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('\0') || name.len() >= MAXPATHLEN {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            "module name must be 1..1023 bytes without NUL",
        )
        .subject(name.escape_debug()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_hold_sizes() {
        assert_eq!(KldFileStat::default().version, 2080);
        assert_eq!(ModuleStat::default().version, 1048);
    }

    #[test]
    fn names() {
        assert_eq!(c_text(b"linux64.ko\0junk"), "linux64.ko");
        assert!(check_name("").is_err());
        assert!(check_name("a\0").is_err());
        assert!(check_name(&"x".repeat(1024)).is_err());
        assert!(check_name("nvidia-modeset").is_ok());
    }
}
