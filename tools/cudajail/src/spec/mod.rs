//! The jail spec: TOML, every field defaulted, validated with all errors at once.

use devfs::types::GpuSelection;
use linuxulator::mount::Bind;
use linuxulator::Suite;
use serde::{Deserialize, Serialize};

/// Which GPUs the jail sees: `"all"` or a list of minors (`[0, 2]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Gpus {
    /// The word `all`.
    Word(String),
    /// Minor numbers.
    List(Vec<u8>),
}

impl<'de> Deserialize<'de> for Gpus {
    /// `"all"` or a list of minors; anything else is named with the shape expected and an
    /// example (`gpus = 0` → write `[0]`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Gpus, D::Error> {
        struct V;
        const WANT: &str = "\"all\" or a list of GPU minors like [0, 1]";
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Gpus;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(WANT)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Gpus, E> {
                Ok(Gpus::Word(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Gpus, E> {
                Err(E::custom(format!(
                    "gpus = {v}: expected {WANT}; for one GPU write gpus = [{v}]"
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Gpus, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Gpus, A::Error> {
                let mut l = Vec::new();
                while let Some(x) = a.next_element::<toml::Value>()? {
                    match x.as_integer().and_then(|n| u8::try_from(n).ok()) {
                        Some(n) => l.push(n),
                        None => {
                            return Err(serde::de::Error::custom(format!(
                                "gpus: {x} is not a GPU minor (a number 0..255, the N of \
                                 /dev/nvidiaN)"
                            )))
                        }
                    }
                }
                Ok(Gpus::List(l))
            }
        }
        d.deserialize_any(V)
    }
}

impl Default for Gpus {
    fn default() -> Self {
        Gpus::Word("all".into())
    }
}

/// A CUDA jail, as the user describes it. `Spec::default()` is the built-in spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spec {
    /// Jail name.
    pub name: String,
    /// Distribution suite: noble, jammy, bookworm, trixie.
    pub suite: String,
    /// ZFS pool (default: the host's pool holding `/`, else `zroot`).
    pub pool: Option<String>,
    /// GPUs to expose.
    pub gpus: Gpus,
    /// Also expose `dri`/`drm` nodes.
    pub dri: bool,
    /// devfs ruleset number (default: the first free ≥ 100 on the host).
    pub ruleset: Option<u16>,
    /// Hostname (default: the name).
    pub hostname: Option<String>,
    /// `linux.osrelease` (default: per suite).
    pub osrelease: Option<String>,
    /// Size of the tmpfs on `/dev/shm`.
    pub shm_size: Option<String>,
    /// Host directories bound in with nullfs (read-only unless `rw = true`).
    pub binds: Vec<Bind>,
    /// `allow.raw_sockets`.
    pub raw_sockets: bool,
    /// Network: `inherit` shares the host's IPv4 and IPv6 addresses (jail(8) `ip4=inherit
    /// ip6=inherit`); `none` gives the jail no network (`ip4=new ip6=new` with no addresses).
    pub network: String,
    /// A recipe (`pytorch`, `llama-cpp`, `comfyui`; `cudajail recipes` lists them): its
    /// packages and idempotent steps applied once to a template of its own that the jail is
    /// cloned from, its check run in the jail once it is up. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    /// The old name of `network`, which set IPv6 as well as IPv4 without saying so: refused
    /// with the new spelling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip4: Option<String>,
    /// Also edit rc.conf/loader.conf so the host setup survives a reboot.
    pub persist_config: bool,
    /// Host users to mirror into the jail (same name, uid, gid, home), so that files in bound
    /// host directories keep their owners.
    pub users: Vec<String>,
    /// `up`'s last step builds and runs a CUDA check inside the jail (initialise CUDA, list the
    /// GPUs, create a context and allocate memory on each); needs a C compiler in the jail, as
    /// the uvm shim does. `false`: only the device nodes and the driver's GPUs are checked.
    pub cuda_check: bool,
    /// NVIDIA's Linux driver installer (`/path/NVIDIA-Linux-x86_64-<version>.run`) of exactly
    /// the host kernel module's version, run inside the jail with `--no-kernel-module` instead
    /// of copying the host's `linux-nvidia-libs` files. Unset: copy the host's libraries.
    pub nvidia_run: Option<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            name: "cuda".into(),
            suite: "noble".into(),
            pool: None,
            gpus: Gpus::default(),
            dri: false,
            ruleset: None,
            hostname: None,
            osrelease: None,
            shm_size: Some("1g".into()),
            binds: Vec::new(),
            raw_sockets: false,
            network: "inherit".into(),
            recipe: None,
            ip4: None,
            persist_config: false,
            users: Vec::new(),
            cuda_check: true,
            nvidia_run: None,
        }
    }
}

/// A spec whose fields all passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Valid {
    /// The source spec.
    pub spec: Spec,
    /// Jail name.
    pub name: jail::JailName,
    /// Suite.
    pub suite: Suite,
    /// Pool.
    pub pool: zfs::DatasetName,
    /// GPUs.
    pub gpus: GpuSelection,
    /// `linux.osrelease` (`a.b.c` or `a.b.c-suffix`).
    pub osrelease: linuxulator::OsRelease,
}

/// One problem, with the field path it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// e.g. `binds[1].host`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Parses TOML text into a spec (syntax and unknown fields).
///
/// # Errors
/// The TOML error with line and column.
pub fn parse(text: &str) -> Result<Spec, String> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(format!(
            "{} bytes, more than the {MAX_SPEC_BYTES} a spec may have",
            text.len()
        ));
    }
    // The TOML parser bounds nesting itself ("recursion limit exceeded"); its message quotes
    // the offending line, which is cut short here.
    toml::from_str(text).map_err(|e| {
        e.to_string()
            .lines()
            .map(|l| match l.char_indices().nth(160) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The largest spec file [`parse`] reads (a real one is well under 4 KiB).
pub const MAX_SPEC_BYTES: usize = 1 << 20;

impl Spec {
    /// Validates every field, reporting all problems at once.
    ///
    /// # Errors
    /// Every [`Problem`] found.
    pub fn validate(&self, host_pool: Option<&str>) -> Result<Valid, Vec<Problem>> {
        let mut p = Vec::new();
        let mut push = |field: &str, m: String| {
            p.push(Problem {
                field: field.into(),
                message: m,
            })
        };
        let name = jail::JailName::new(&self.name)
            .map_err(|e| push("name", e.to_string()))
            .ok();
        let suite = self
            .suite
            .parse::<Suite>()
            .map_err(|e| push("suite", e.to_string()))
            .ok();
        let pool_s = self
            .pool
            .clone()
            .or_else(|| host_pool.map(String::from))
            .unwrap_or_else(|| "zroot".into());
        let pool = zfs::DatasetName::new(&pool_s)
            .and_then(|d| {
                if d.as_str().contains('/') {
                    Err(zfs::Error::new(
                        zfs::Op::Validate,
                        zfs::ErrorKind::InvalidInput,
                        "must be a pool, not a dataset",
                    ))
                } else {
                    Ok(d)
                }
            })
            .map_err(|e| push("pool", e.to_string()))
            .ok();
        let gpus = match &self.gpus {
            Gpus::Word(w) if w == "all" => Some(GpuSelection::All),
            Gpus::Word(w) => {
                push(
                    "gpus",
                    format!("{w:?}: expected \"all\" or a list of GPU minors like [0, 1]"),
                );
                None
            }
            Gpus::List(l) if l.is_empty() => {
                push(
                    "gpus",
                    "empty list: a CUDA jail needs at least one GPU".into(),
                );
                None
            }
            Gpus::List(l) => Some(GpuSelection::Only(l.clone())),
        };
        if let Some(r) = self.ruleset {
            if r < 5 {
                push("ruleset", format!("{r}: rulesets 1-4 are the system's own (devfs.rules defaults); use 100 or more"));
            }
        }
        if let Some(h) = &self.hostname {
            if h.is_empty()
                || h.len() > 255
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                push(
                    "hostname",
                    format!("{h:?}: letters, digits, '-' and '.', 1..255 bytes"),
                );
            }
        }
        let osrelease = match (&self.osrelease, suite) {
            (Some(s), su) => match s.parse::<linuxulator::OsRelease>() {
                Ok(r) => {
                    if let Some(su) = su {
                        if let Err(e) = linuxulator::types::check_osrelease(su, r.version) {
                            push("osrelease", e.to_string());
                        }
                    }
                    Some(r)
                }
                Err(e) => {
                    push("osrelease", e.to_string());
                    None
                }
            },
            (None, Some(su)) => Some(linuxulator::min_osrelease(su).1.into()),
            (None, None) => None,
        };
        if let Some(s) = &self.shm_size {
            if let Err(why) = shm_size_bytes(s) {
                push("shm_size", format!("{s:?}: {why}"));
            }
        }
        // The spec is kept on the jail's dataset (`cudajail:spec`), and a ZFS user property
        // holds less than 8192 bytes (ZAP_MAXVALUELEN).
        let record = crate::engine::stored_spec_text(self).len();
        if record >= 8192 {
            push(
                "spec",
                format!("{record} bytes as stored on the dataset; a ZFS user property holds under 8192: fewer binds or users"),
            );
        }
        if let Some(r) = &self.nvidia_run {
            if !r.starts_with('/') || r.split('/').any(|c| c == "..") {
                push(
                    "nvidia_run",
                    format!("{r:?}: must be an absolute path, without '..'"),
                );
            } else if run_file_version(r).is_none() {
                push(
                    "nvidia_run",
                    format!("{r:?}: expected NVIDIA's installer, named NVIDIA-Linux-x86_64-<version>.run"),
                );
            }
        }
        for (i, b) in self.binds.iter().enumerate() {
            if !b.host.starts_with('/') || b.host.split('/').any(|c| c == "..") {
                push(
                    &format!("binds[{i}].host"),
                    format!("{:?}: must be absolute, without '..'", b.host),
                );
            }
            let t = b.target.trim_start_matches('/');
            if t.is_empty() || t.split('/').any(|c| c.is_empty() || c == ".." || c == ".") {
                push(
                    &format!("binds[{i}].target"),
                    format!(
                        "{:?}: must be a path inside the jail, without '..'",
                        b.target
                    ),
                );
            } else if let Some(m) = overlapping_managed_path(t) {
                push(
                    &format!("binds[{i}].target"),
                    format!(
                        "{:?}: overlaps /{m}, which cudajail mounts or writes (a bind there would hide it, or let cudajail change host files through it); choose a path such as /mnt/… or /srv/…",
                        b.target
                    ),
                );
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.is_empty()
                || u.len() > 32
                || !u
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                || u == "root"
            {
                push(
                    &format!("users[{i}]"),
                    format!("{u:?}: a user name (letters, digits, _ and -), not root"),
                );
            }
        }
        if !matches!(self.network.as_str(), "inherit" | "none") {
            push(
                "network",
                format!(
                    "{:?}: \"inherit\" (the host's IPv4 and IPv6) or \"none\"",
                    self.network
                ),
            );
        }
        if let Some(r) = &self.recipe {
            if let Err(e) = crate::recipe::Recipe::builtin(r) {
                push("recipe", e.to_string());
            }
        }
        if let Some(old) = &self.ip4 {
            let new = if old == "new" { "none" } else { old.as_str() };
            push(
                "ip4",
                format!("renamed: it set IPv6 as well as IPv4; write network = \"{new}\" instead"),
            );
        }
        match (name, suite, pool, gpus, osrelease) {
            (Some(name), Some(suite), Some(pool), Some(gpus), Some(osrelease)) if p.is_empty() => {
                Ok(Valid {
                    spec: self.clone(),
                    name,
                    suite,
                    pool,
                    gpus,
                    osrelease,
                })
            }
            _ => Err(p),
        }
    }
}

/// The driver version in the name of NVIDIA's Linux installer:
/// `/x/NVIDIA-Linux-x86_64-580.95.05.run` → `580.95.05` (`None` for any other name).
#[must_use]
pub fn run_file_version(path: &str) -> Option<&str> {
    let file = path.rsplit('/').next()?;
    let v = file
        .strip_prefix("NVIDIA-Linux-x86_64-")?
        .strip_suffix(".run")?;
    (v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(v)
}

/// The paths below a jail's root that cudajail mounts on or writes into: devfs and the Linux
/// file systems, the files of `etc` it writes (users, `ld.so.preload`, hosts, resolv.conf), the
/// installer's `tmp`, the NVIDIA library directory and its own directory. A bind may not equal,
/// contain or lie inside any of them.
pub const MANAGED_PATHS: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "etc",
    "tmp",
    "usr/lib/x86_64-linux-gnu",
    "usr/local/lib/cudajail",
];

/// The managed path `target` (relative, normalised) equals, contains or lies inside.
#[must_use]
pub fn overlapping_managed_path(target: &str) -> Option<&'static str> {
    let t = target.trim_matches('/');
    MANAGED_PATHS
        .iter()
        .copied()
        .find(|m| t == *m || m.starts_with(&format!("{t}/")) || t.starts_with(&format!("{m}/")))
}

/// The bytes FreeBSD's tmpfs limits `/dev/shm` to for `size`, or why cudajail refuses it.
///
/// tmpfs does not refuse a size it cannot read: `tmpfs_mount` (sys/fs/tmpfs/tmpfs_vfsops.c)
/// then mounts with no limit at all, and `vfs_getopt_size` (sys/kern/vfs_mount.c) reads the
/// number with `strtoq(…, 0)`, so a leading `0` makes it octal. Only what the kernel reads as
/// the admin means is accepted: decimal digits without a leading zero, then at most one of
/// `k`, `m`, `g`, `t` (either case; powers of 1024), above 0 and below the kernel's own limit.
pub fn shm_size_bytes(size: &str) -> Result<u64, String> {
    let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
    let suffix = &size[digits.len()..];
    let shape = "a size like 512m or 2g: decimal digits, then at most one of k, m, g, t";
    if suffix.len() > 1 || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{shape} (FreeBSD's tmpfs would give /dev/shm no limit at all)"
        ));
    }
    if digits.starts_with('0') {
        return Err(if digits.bytes().all(|b| b == b'0') {
            "must be above 0 (0 is no limit to FreeBSD's tmpfs)".to_string()
        } else {
            format!("{shape}, without a leading 0 (FreeBSD's tmpfs would read the number as octal)")
        });
    }
    let shift = match suffix {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        _ => 40,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|&b| b <= i64::MAX as u64 - 4096)
        .ok_or_else(|| "too large (beyond it FreeBSD's tmpfs sets no limit)".to_string())
}

#[cfg(test)]
mod tests;
