//! `cudajail export`: the same jail as files base-system tools (and Bastille, AppJail) read —
//! jail.conf(5), devfs.rules(5), an fstab(5) — plus a CDI-style JSON device spec.

use crate::plan::Plan;
use crate::spec::Valid;
use devfs::Ruleset;
use jail::conf::{AssignOp, Item, JailConf, Param, Pos, Value};
use linuxulator::linux_mount_set;
use serde_json::json;

/// The exported files.
#[derive(Debug, Clone)]
pub struct Export {
    /// jail.conf(5) text.
    pub jail_conf: String,
    /// devfs.rules(5) text.
    pub devfs_rules: String,
    /// fstab(5) text for `mount.fstab`.
    pub fstab: String,
    /// CDI-style JSON.
    pub cdi: String,
}

fn param(name: &str, values: &[&str]) -> Item {
    Item::Param(Param {
        name: name.into(),
        op: if values.is_empty() {
            AssignOp::Flag
        } else {
            AssignOp::Set
        },
        values: values.iter().map(|v| Value::lit(v)).collect(),
        pos: Pos::default(),
    })
}

/// A GPU as the CDI spec lists it: its minor (`/dev/nvidiaN`), and its UUID when the driver
/// was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdiGpu {
    /// The minor.
    pub minor: u32,
    /// `GPU-…`, when known.
    pub uuid: Option<String>,
}

/// What the host's driver says for the CDI spec, when it was asked: its Linux libraries of the
/// kernel module's version (host path, file name), mounted into containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdiHost {
    /// Linux library files on the host: (directory, file name).
    pub libs: Vec<(String, String)>,
}

/// Where a Debian or Ubuntu container finds the driver's libraries.
const CONTAINER_LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// The CDI spec (0.6.0, kind `nvidia.com/gpu`) as nvidia-ctk shapes it: a device per GPU under
/// its index and, when known, its `GPU-<uuid>`; an `all` device; the control nodes, the
/// libraries (bind-mounted read-only) and an ldconfig hook common to all.
pub fn cdi(gpus: &[CdiGpu], host: &CdiHost) -> serde_json::Value {
    let node = |m: u32| json!({ "path": format!("/dev/nvidia{m}") });
    let mut devices: Vec<serde_json::Value> = Vec::new();
    for g in gpus {
        let edits = json!({ "deviceNodes": [node(g.minor)] });
        devices.push(json!({ "name": g.minor.to_string(), "containerEdits": edits }));
        if let Some(u) = &g.uuid {
            devices.push(json!({ "name": u, "containerEdits": edits }));
        }
    }
    devices.push(json!({
        "name": "all",
        "containerEdits": { "deviceNodes": gpus.iter().map(|g| node(g.minor)).collect::<Vec<_>>() }
    }));
    let mut common = json!({
        "deviceNodes": [ { "path": "/dev/nvidiactl" }, { "path": "/dev/nvidia-modeset" } ],
        "env": [ "NVIDIA_VISIBLE_DEVICES=void" ]
    });
    if !host.libs.is_empty() {
        common["mounts"] = host
            .libs
            .iter()
            .map(|(dir, f)| {
                json!({
                    "hostPath": format!("{}/{f}", dir.trim_end_matches('/')),
                    "containerPath": format!("{CONTAINER_LIB_DIR}/{f}"),
                    "options": ["ro", "nosuid", "nodev", "bind"]
                })
            })
            .collect();
        // The container's own ldconfig makes the libcuda.so.1 link for what was mounted.
        common["hooks"] = json!([{
            "hookName": "createContainer",
            "path": "/sbin/ldconfig",
            "args": ["/sbin/ldconfig", CONTAINER_LIB_DIR]
        }]);
    }
    json!({
        "cdiVersion": "0.6.0",
        "kind": "nvidia.com/gpu",
        "devices": devices,
        "containerEdits": common
    })
}

/// Builds the files for a validated spec and its plan. `gpus` are the GPUs to list in the CDI
/// spec (the spec's own list, or what the driver reported), `host` what the driver's host has.
pub fn export(v: &Valid, p: &Plan, gpus: &[CdiGpu], host: &CdiHost) -> anyhow::Result<Export> {
    let name = v.name.as_str();
    let fstab_path = format!("/etc/fstab.cudajail.{name}");
    // rc.subr assigns the header's name as a shell variable (`eval NAME=N`): a jail name's
    // `.` or `-` would make that a command, so those become `_`.
    let ruleset_name: String = format!("devfsrules_cudajail_{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let osrel = v.osrelease.to_string();
    let rs_num = p.ruleset.to_string();
    let mut items = vec![
        Item::Comment(format!(
            "# Written by `cudajail export` for jail {name}; edit with care."
        )),
        param("path", &[&p.root]),
        param(
            "host.hostname",
            &[v.spec.hostname.as_deref().unwrap_or(name)],
        ),
        param("persist", &[]),
        param("enforce_statfs", &["1"]),
        param("devfs_ruleset", &[&rs_num]),
        param("ip4", &[crate::plan::jail_net(&v.spec.network)]),
        param("ip6", &[crate::plan::jail_net(&v.spec.network)]),
        param("sysvmsg", &["new"]),
        param("sysvsem", &["new"]),
        param("sysvshm", &["new"]),
        param("linux", &["new"]),
        param("linux.osname", &["Linux"]),
        param("linux.osrelease", &[&osrel]),
        param("mount.fstab", &[&fstab_path]),
    ];
    if !v.spec.raw_sockets {
        items.push(param("allow.noraw_sockets", &[]));
    }
    let conf = JailConf {
        items: vec![Item::Jail {
            name: name.into(),
            items,
            pos: Pos::default(),
        }],
    };
    // The exported jail.conf must itself resolve into a valid jail.
    conf.resolve(name)?.to_spec()?;
    let rs = Ruleset::gpu(p.ruleset, &ruleset_name, &v.gpus, v.spec.dri);
    // The rules must load at boot after the stock rulesets, as rc.subr and devfs(8) read them.
    devfs::text::RulesFile::parse_after_stock(&rs.to_rules_file())?;
    let mut fstab = String::from("# Device\tMountpoint\tFStype\tOptions\tDump\tPass\n");
    for m in linux_mount_set(p.ruleset.0, v.spec.shm_size.as_deref(), &v.spec.binds) {
        let on = format!("{}/{}", p.root, m.target);
        let opts = m.options_text();
        for field in [&m.from, &on, &m.fstype, &opts] {
            fstab_field(field)?;
        }
        fstab.push_str(&format!("{}\t{on}\t{}\t{opts}\t0\t0\n", m.from, m.fstype));
    }
    let cdi = cdi(gpus, host);
    Ok(Export {
        jail_conf: conf.to_string(),
        devfs_rules: rs.to_rules_file(),
        fstab,
        cdi: serde_json::to_string_pretty(&cdi)?,
    })
}

/// Refuses a field jail(8) would read otherwise than written in a `mount.fstab` line.
///
/// jail(8) reads that file itself (`check_intparams`, usr.sbin/jail/config.c): a `#` anywhere
/// ends the line, and `run_command` (usr.sbin/jail/command.c) splits what is left at spaces,
/// tabs, form feeds, vertical tabs, CRs and newlines, with no escapes (unlike fstab(5)'s
/// `\040` for getfsent). A path holding one of those cannot be written there at all.
fn fstab_field(field: &str) -> anyhow::Result<()> {
    if let Some(c) = field
        .chars()
        .find(|c| matches!(c, '#' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
    {
        anyhow::bail!(
            "{field:?} holds {c:?}, which jail(8) cannot read in a mount.fstab line (it cuts the line at '#' and splits it at blanks, with no escapes): rename the directory or bind a parent without it; `cudajail up` mounts such a path itself and is not affected"
        );
    }
    if field.is_empty() {
        anyhow::bail!("an empty field cannot be written in a mount.fstab line");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{parse, Spec};

    /// jail(8) cuts a mount.fstab line at `#` and splits it at blanks (config.c, command.c):
    /// a bind whose path holds one is refused with the reason, instead of a broken line.
    #[test]
    fn binds_jail8_cannot_read_in_an_fstab_are_refused() {
        for (host, target) in [
            ("/data/my models", "models"),
            ("/data/models", "my models"),
            ("/data/#1", "models"),
            ("/data/a\tb", "models"),
        ] {
            let v = parse(&format!(
                "[[binds]]\nhost = {host:?}\ntarget = {target:?}\n"
            ))
            .unwrap()
            .validate(None)
            .unwrap();
            let p = crate::plan::build(&v, &[], true).unwrap();
            let e = export(&v, &p, &[], &CdiHost::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("jail(8) cannot read"), "{host} {target}: {e}");
        }
    }

    #[test]
    fn exported_files_parse_back() {
        let v = parse("gpus = [0, 1]\n[[binds]]\nhost = \"/data/models\"\ntarget = \"models\"\n")
            .unwrap()
            .validate(None)
            .unwrap();
        let p = crate::plan::build(&v, &[], true).unwrap();
        let gpus = [0, 1].map(|minor| CdiGpu { minor, uuid: None });
        let e = export(&v, &p, &gpus, &CdiHost::default()).unwrap();
        let conf = JailConf::parse(&e.jail_conf, "jail.conf").unwrap();
        let (spec, jail8) = conf.resolve("cuda").unwrap().to_spec().unwrap();
        assert_eq!(spec.path, "/zroot/cudajail/cuda");
        assert!(jail8
            .iter()
            .any(|(n, v)| n == "mount.fstab" && v[0] == "/etc/fstab.cudajail.cuda"));
        let rules = devfs::text::RulesFile::parse(&e.devfs_rules).unwrap();
        assert_eq!(rules.rulesets[0].id.0, 100);
        assert!(e.devfs_rules.contains("'nvidia1' unhide"));
        assert!(e
            .fstab
            .contains("tmpfs\t/zroot/cudajail/cuda/dev/shm\ttmpfs\trw,mode=1777,size=1g\t0\t0"));
        assert!(e
            .fstab
            .contains("/data/models\t/zroot/cudajail/cuda/models\tnullfs\tro\t0\t0"));
        let cdi: serde_json::Value = serde_json::from_str(&e.cdi).unwrap();
        // 0, 1 and all (no UUIDs without the driver).
        assert_eq!(cdi["devices"].as_array().unwrap().len(), 3);
        assert_eq!(
            cdi["devices"][1]["containerEdits"]["deviceNodes"][0]["path"],
            "/dev/nvidia1"
        );
        assert_eq!(cdi["devices"][2]["name"], "all");
        let _ = Spec::default();
    }
}
