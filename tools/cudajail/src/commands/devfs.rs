//! `cudajail devfs check`: a devfs.rules file as FreeBSD loads it at boot.

use super::Failure;
use devfs::load::{Loader, NameLookup, NameTable, Report, Verdict, MAX_RULES_BYTES};
use std::io::Read;
use std::path::Path;

/// Reads at most `limit` bytes of a file (refusing more).
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if buf.len() > limit {
        return Err(format!(
            "{} is larger than the {limit} bytes read here",
            path.display()
        ));
    }
    Ok(buf)
}

/// The host's users and groups, or `None` (names unchecked) when either file is unreadable.
fn host_names(passwd: &Path, group: &Path) -> Option<NameTable> {
    const LIMIT: usize = 64 << 20;
    let p = read_bounded(passwd, LIMIT).ok()?;
    let g = read_bounded(group, LIMIT).ok()?;
    Some(NameTable::from_files(
        &String::from_utf8_lossy(&p),
        &String::from_utf8_lossy(&g),
    ))
}

/// One report's lines for a file: each problem, then a summary.
pub(crate) fn describe(file: &str, r: &Report) -> (Vec<String>, String) {
    let mut lines: Vec<String> = r.problems.iter().map(|p| format!("{file}:{p}")).collect();
    let rules: usize = r.sets.iter().map(|s| s.rules.len()).sum();
    let fails = r
        .problems
        .iter()
        .filter(|p| p.verdict == Verdict::Fails)
        .count();
    let refused = r.problems.len() - fails;
    let summary = match r.stops_at {
        Some(l) => {
            let lost: usize = r
                .sets
                .iter()
                .flat_map(|s| &s.rules)
                .filter(|x| x.line > l)
                .count();
            format!(
                "{file}: {fails} line(s) fail at boot; rc.subr stops loading at line {l}, so \
                 the {lost} rule(s) after it are not loaded; {refused} refused by cudajail"
            )
        }
        None if refused > 0 => format!(
            "{file}: loads at boot ({} ruleset(s), {rules} rule(s)); {refused} line(s) refused \
             by cudajail",
            r.sets.len()
        ),
        None => format!(
            "{file}: loads at boot: {} ruleset(s), {rules} rule(s)",
            r.sets.len()
        ),
    };
    lines.push(summary.clone());
    (lines, summary)
}

/// `cudajail devfs check FILE`.
pub(crate) fn check(
    file: &Path,
    alone: bool,
    passwd: &Path,
    group: &Path,
    json: bool,
) -> Result<String, Failure> {
    let text = read_bounded(file, MAX_RULES_BYTES).map_err(Failure::Usage)?;
    let names = host_names(passwd, group);
    let lookup: Option<&dyn NameLookup> = names.as_ref().map(|n| n as &dyn NameLookup);
    let mut l = Loader::new(lookup);
    let alone = alone || file.ends_with("defaults/devfs.rules");
    if !alone {
        l.load_stock();
    }
    let r = l.load(&text);
    let name = file.display().to_string();
    let (mut lines, summary) = describe(&name, &r);
    if names.is_none() {
        lines.insert(
            0,
            format!(
                "note: {} or {} unreadable: user and group names are not checked",
                passwd.display(),
                group.display()
            ),
        );
    }
    let out = if json {
        let sets: Vec<serde_json::Value> = r
            .sets
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name, "id": s.id.0, "line": s.line,
                    "rules": s.rules.iter().map(|x| serde_json::json!({
                        "line": x.line, "number": x.number, "rule": x.rule.to_string()
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "file": name, "rulesets": sets, "problems": r.problems, "stops_at": r.stops_at,
            "names_checked": names.is_some(),
        }))
        .map_err(|e| Failure::Failed(e.into()))?
    } else {
        lines.join("\n")
    };
    if r.is_clean() {
        Ok(out)
    } else {
        Err(Failure::Report { out, summary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, body: &[u8]) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cudajail-devfs-check-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn reports_every_failing_line_with_its_number() {
        let f = tmp(
            "devfs.rules",
            b"[gpu=100]\nadd include $devfsrules_jail\nadd path dsp* unhide group audio\nadd unhide path nvidia0\nadd path 'nvidia*' unhide\n",
        );
        let pw = tmp("passwd", b"root:*:0:0::/root:/bin/sh\n");
        let gr = tmp("group", b"wheel:*:0:root\nvideo:*:44:\n");
        let Err(Failure::Report { out, summary }) = check(&f, false, &pw, &gr, false) else {
            panic!("problems expected")
        };
        assert!(
            out.contains("devfs.rules:line 3: fails at boot: group \"audio\""),
            "{out}"
        );
        assert!(
            out.contains("line 4: fails at boot: devfs rule: unknown argument: path"),
            "{out}"
        );
        assert!(
            summary.contains("stops loading at line 3, so the 1 rule(s) after it"),
            "{summary}"
        );
        let Err(Failure::Report { out, .. }) = check(&f, false, &pw, &gr, true) else {
            panic!()
        };
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["stops_at"], 3);
        assert_eq!(v["rulesets"][0]["rules"][0]["rule"], "add include 4");
        let ok = tmp("ok.rules", b"[gpu=100]\nadd include $devfsrules_jail\nadd path nvidia0 unhide mode u=rw,g=rw group video\n");
        let out = check(&ok, false, &pw, &gr, false).unwrap();
        assert!(
            out.contains("loads at boot: 1 ruleset(s), 2 rule(s)"),
            "{out}"
        );
        // Alone, the stock names are unknown.
        assert!(check(&ok, true, &pw, &gr, false).is_err());
    }
}
