//! `cudajail plan` (`--exact`: the engine run on a recording copy of the host), `export` and `fmt`.

use super::{load_spec, with_env, Failure};
use crate::{export, plan, recording};
use std::path::Path;

/// `cudajail plan --exact`.
pub(crate) fn plan_exact(spec: Option<&Path>, json: bool, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        let (calls, outcome) = recording::exact_plan(env, &v)?;
        let changes: Vec<_> = calls.iter().filter(|c| c.changes_host).collect();
        if json {
            let out = serde_json::to_string_pretty(&serde_json::json!({
                "calls": changes,
                "would_succeed": outcome.is_ok(),
                "error": outcome.as_ref().err(),
            }))?;
            return Ok(match &outcome {
                Ok(()) => Ok(out),
                Err(e) => Err(Failure::Report {
                    out,
                    summary: format!("up would fail: {}", e.lines().next().unwrap_or_default()),
                }),
            });
        }
        let mut t = format!(
            "`up` would make these {} changing calls on a copy of this host:\n",
            changes.len()
        );
        // Consecutive identical calls (one DevfsAddRule per rule) print once, counted.
        let mut i = 0;
        while i < changes.len() {
            let c = changes[i];
            let n = changes[i..]
                .iter()
                .take_while(|d| d.verb == c.verb && d.subject == c.subject)
                .count();
            let times = if n > 1 {
                format!(" (x{n})")
            } else {
                String::new()
            };
            t.push_str(&format!("  {:<16} {}{times}\n", c.verb, c.subject));
            i += n;
        }
        Ok(match outcome {
            Ok(()) => {
                t.push_str("and would succeed.");
                Ok(t)
            }
            Err(e) => {
                t.push_str(&format!("and would fail (then undo them): {e}"));
                Err(Failure::Report {
                    out: t,
                    summary: format!("up would fail: {}", e.lines().next().unwrap_or_default()),
                })
            }
        })
    })?
}

/// `cudajail plan`.
pub(crate) fn plan(spec: Option<&Path>, json: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    let p = plan::build(&v, &[], false).map_err(Failure::Failed)?;
    if json {
        serde_json::to_string_pretty(&p).map_err(|e| Failure::Failed(e.into()))
    } else {
        Ok(p.to_string())
    }
}

/// `cudajail export`.
pub(crate) fn export(
    spec: Option<&Path>,
    out: Option<&Path>,
    sim: bool,
) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    let p = plan::build(&v, &[], false).map_err(Failure::Failed)?;
    // GPUs named in the spec need no driver (they are listed by index); with a host (`--sim`,
    // or FreeBSD) the driver gives their UUIDs and the host its Linux libraries to mount.
    let named: Option<Vec<u32>> = match &v.gpus {
        devfs::types::GpuSelection::Only(l) => Some(l.iter().map(|n| u32::from(*n)).collect()),
        devfs::types::GpuSelection::All => None,
    };
    let ask_host = sim || cfg!(target_os = "freebsd") || named.is_none();
    let (gpus, host) = if ask_host {
        with_env(sim, &v, |env| {
            let d = nvgpu::Driver::open(env.nv).map_err(|e| {
                anyhow::anyhow!(
                    "{e}; name the GPUs in the spec (gpus = [0]) to export without a driver"
                )
            })?;
            let all = d.gpus()?;
            let gpus: Vec<export::CdiGpu> = crate::engine::selected_gpus(&v.gpus, &all)
                .iter()
                .map(|g| export::CdiGpu {
                    minor: g.minor,
                    uuid: Some(g.uuid.to_string()),
                })
                .collect();
            let ver = d.version().to_string();
            let libs = crate::engine::host_nvidia_libs_of(env, &ver)?;
            Ok((gpus, export::CdiHost { libs }))
        })?
    } else {
        let gpus = named
            .unwrap_or_default()
            .into_iter()
            .map(|minor| export::CdiGpu { minor, uuid: None })
            .collect();
        (gpus, export::CdiHost::default())
    };
    let e = export::export(&v, &p, &gpus, &host).map_err(Failure::Failed)?;
    let name = v.name.as_str();
    let dir = out.map_or(".".to_string(), |d| d.display().to_string());
    let steps = format!(
        "To run this jail with FreeBSD's own tools (as root, after `cudajail up` made its \
         dataset, or with your own root at {root}):\n\
         \x20 install -m 0644 {dir}/jail.conf /etc/jail.conf.d/{name}.conf\n\
         \x20 install -m 0644 {dir}/fstab /etc/fstab.cudajail.{name}\n\
         \x20 cat {dir}/devfs.rules >> /etc/devfs.rules\n\
         \x20 cudajail devfs check /etc/devfs.rules && service devfs restart\n\
         \x20 service jail start {name}\n\
         \x20 sysrc jail_enable=YES jail_list+={name}   # start it at boot\n\
         cdi.json is a CDI device spec for container runtimes that read one.",
        root = p.root
    );
    let files = [
        ("jail.conf", &e.jail_conf),
        ("devfs.rules", &e.devfs_rules),
        ("fstab", &e.fstab),
        ("cdi.json", &e.cdi),
    ];
    match out {
        None => Ok(files
            .iter()
            .map(|(n, t)| format!("==> {n} <==\n{t}\n"))
            .chain(std::iter::once(format!("==> next <==\n{steps}")))
            .collect::<String>()),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::Failed(anyhow::anyhow!("{}: {e}", dir.display())))?;
            for (n, _) in &files {
                if dir.join(n).exists() {
                    return Err(Failure::Failed(anyhow::anyhow!(
                        "{} exists; not overwriting it",
                        dir.join(n).display()
                    )));
                }
            }
            for (n, t) in &files {
                std::fs::write(dir.join(n), t).map_err(|e| {
                    Failure::Failed(anyhow::anyhow!("{}: {e}", dir.join(n).display()))
                })?;
            }
            Ok(format!(
                "wrote jail.conf, devfs.rules, fstab and cdi.json to {}\n{steps}",
                dir.display()
            ))
        }
    }
}

/// `cudajail conf show`: what jail(8) makes of the file, jail by jail.
pub(crate) fn conf_show(file: &Path, sep: &str, json: bool) -> Result<String, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let flat = jail::conf::FlatConf::parse(&text, &name).map_err(|e| Failure::Failed(e.into()))?;
    // Each jail printed as it is resolved: memory stays near the file's own size plus the
    // output (a file with includes is expanded into the owned tree first).
    let mut out = String::new();
    let mut n = 0usize;
    let mut emit = |r: jail::conf::Resolved| {
        if json {
            let v = serde_json::json!({ "name": r.name, "params": r.params });
            push_pretty_element(&mut out, n, &v);
        } else {
            if n > 0 {
                out.push('\n');
            }
            out.push_str(&r.exhibit(sep));
        }
        n += 1;
    };
    if flat.has_includes() {
        let dir = file
            .parent()
            .map_or(".".to_string(), |d| d.display().to_string());
        flat.to_conf()
            .expand_includes(&dir, &jail::conf::StdConfFs)
            .and_then(|c| c.resolve_all())
            .map(|all| all.into_iter().for_each(&mut emit))
    } else {
        flat.resolve_each(|r| {
            emit(r);
            Ok(())
        })
    }
    .map_err(|e| Failure::Failed(e.into()))?;
    if json {
        out = if n == 0 {
            "[]".into()
        } else {
            format!("[\n{out}\n]")
        };
    }
    Ok(out)
}

/// Appends element `i` of a JSON array the way `serde_json::to_string_pretty` prints it
/// inside the array (two spaces deeper, `,` and a newline between elements), so an array can
/// be printed one element at a time.
fn push_pretty_element(out: &mut String, i: usize, v: &serde_json::Value) {
    if i > 0 {
        out.push_str(",\n");
    }
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    for (k, l) in text.lines().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        out.push_str("  ");
        out.push_str(l);
    }
}

/// `cudajail fmt`.
pub(crate) fn fmt(file: &Path, check: bool, write: bool) -> Result<String, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    // Printed from the in-place parse, one top-level item at a time.
    let c = jail::conf::FlatConf::parse(&text, &file.display().to_string())
        .map_err(|e| Failure::Failed(e.into()))?;
    let out = c.to_string();
    if write {
        // Never write what would not read back to the same jails (checked on the text itself,
        // includes as written).
        let again =
            jail::conf::FlatConf::parse(&out, &file.display().to_string()).map_err(|e| {
                Failure::Failed(anyhow::anyhow!(
                    "the formatted text does not parse ({e}); the file was not changed"
                ))
            })?;
        let (a, b) = (c.resolve_all(), again.resolve_all());
        if a.as_ref().map_err(ToString::to_string) != b.as_ref().map_err(ToString::to_string) {
            return Err(Failure::Failed(anyhow::anyhow!(
                "formatting would change what {} means; the file was not changed",
                file.display()
            )));
        }
        if out == text {
            return Ok(format!("{} is formatted", file.display()));
        }
        linuxulator::rcconf::write_atomic(file, &out).map_err(|e| Failure::Failed(e.into()))?;
        return Ok(format!("formatted {}", file.display()));
    }
    if check {
        if out == text {
            Ok(format!("{} is formatted", file.display()))
        } else {
            Err(Failure::Failed(anyhow::anyhow!(
                "{} is not formatted; run `cudajail fmt {}`",
                file.display(),
                file.display()
            )))
        }
    } else {
        Ok(out.trim_end().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_array_printed_element_by_element_is_serde_json_s() {
        let items = [
            serde_json::json!({"name": "a", "params": [["name", ["a"]], ["persist", null]]}),
            serde_json::json!({"name": "b\"q", "params": [["ip4.addr", ["1", "2"]], ["x", []]]}),
            serde_json::json!({}),
        ];
        for n in 1..=items.len() {
            let mut out = String::new();
            for (i, v) in items[..n].iter().enumerate() {
                push_pretty_element(&mut out, i, v);
            }
            assert_eq!(
                format!("[\n{out}\n]"),
                serde_json::to_string_pretty(&items[..n].to_vec()).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string_pretty(&Vec::<serde_json::Value>::new()).unwrap(),
            "[]"
        );
    }
}
