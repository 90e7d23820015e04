//! `devfs-gpu`: prints the devfs ruleset that exposes NVIDIA GPUs to a jail, and optionally
//! installs it live on a devfs mount (FreeBSD, root) — no editing of /etc/devfs.rules, no reboot.
//!
//! ```text
//! cargo run -p devfs-rs --example devfs-gpu -- [--gpus all|0,1] [--dri] [--ruleset N] [--apply /jails/x/dev]
//! ```
//! Exit codes: 0 ok, 1 failure, 2 usage.

use devfs::types::{first_free, GpuSelection};
use devfs::{DevfsOps, Ruleset, RulesetId};
use std::path::Path;
use std::process::ExitCode;

struct Args {
    gpus: GpuSelection,
    dri: bool,
    ruleset: Option<u16>,
    apply: Option<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        gpus: GpuSelection::All,
        dri: false,
        ruleset: None,
        apply: None,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--gpus" => {
                let v = it.next().ok_or("--gpus needs all or a list like 0,1")?;
                a.gpus = if v == "all" {
                    GpuSelection::All
                } else {
                    GpuSelection::Only(
                        v.split(',')
                            .map(|n| {
                                n.trim()
                                    .parse::<u8>()
                                    .map_err(|_| format!("bad GPU number {n:?}"))
                            })
                            .collect::<Result<_, _>>()?,
                    )
                };
            }
            "--dri" => a.dri = true,
            "--ruleset" => {
                a.ruleset = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|n| *n >= 5)
                        .ok_or("--ruleset needs a number >= 5")?,
                )
            }
            "--apply" => a.apply = Some(it.next().ok_or("--apply needs a devfs mount point")?),
            "-h" | "--help" => return Err(String::new()),
            o => return Err(format!("unknown argument {o:?}")),
        }
    }
    Ok(a)
}

/// Installs the ruleset on `mount` through any [`DevfsOps`], then makes it the mount's ruleset.
fn install(ops: &dyn DevfsOps, mount: &Path, rs: &Ruleset) -> devfs::Result<()> {
    if !ops.rules(mount, rs.id)?.is_empty() {
        return Err(devfs::Error::new(
            devfs::Op::RuleAdd,
            devfs::ErrorKind::AlreadyExists,
            "ruleset already has rules; pick another with --ruleset",
        )
        .subject(rs.id));
    }
    for r in &rs.rules {
        ops.add_rule(mount, rs.id, r)?;
    }
    ops.use_ruleset(mount, rs.id)?;
    ops.apply_ruleset(mount, rs.id)
}

fn main() -> ExitCode {
    let a = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("devfs-gpu: {e}");
            }
            eprintln!("usage: devfs-gpu [--gpus all|0,1] [--dri] [--ruleset N] [--apply MOUNT]");
            return ExitCode::from(2);
        }
    };
    let id = RulesetId(a.ruleset.unwrap_or(100));
    let mut rs = Ruleset::gpu(id, "devfsrules_jail_gpu", &a.gpus, a.dri);
    let Some(mount) = a.apply else {
        print!("{}", rs.to_rules_file());
        return ExitCode::SUCCESS;
    };
    #[cfg(target_os = "freebsd")]
    {
        let host = devfs::DevfsHost;
        let mp = Path::new(&mount);
        if a.ruleset.is_none() {
            match host.rulesets(mp) {
                Ok(used) => rs.id = first_free(&used, 100).unwrap_or(id),
                Err(e) => {
                    eprintln!("devfs-gpu: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        match install(&host, mp, &rs) {
            Ok(()) => {
                print!("{}", rs.to_rules_file());
                eprintln!("installed ruleset {} on {mount}", rs.id);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!(
                    "devfs-gpu: {e}\nhint: run as root on the host, with MOUNT a devfs mount point"
                );
                ExitCode::from(1)
            }
        }
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = (&mut rs, first_free, install, mount);
        eprintln!("devfs-gpu: --apply needs FreeBSD");
        ExitCode::from(1)
    }
}
