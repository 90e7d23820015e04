//! `cudajail completions SHELL`: clap_complete's scripts, and tcsh's `complete` command, which
//! clap_complete does not write (FreeBSD's default interactive root shell is sh since 14.0, but
//! many admins keep tcsh).

use clap::ValueEnum;

/// The shells we write completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// bash (bash-completion).
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
    /// elvish.
    Elvish,
    /// PowerShell.
    Powershell,
    /// tcsh and csh: one `complete` command (source it, or put it in ~/.tcshrc).
    Tcsh,
}

impl CompletionShell {
    /// The completion script for this shell and `cmd` (what `cudajail completions SHELL` prints).
    pub fn script_for(self, cmd: clap::Command) -> String {
        script(self, cmd)
    }
}

/// The script for `shell`.
pub fn script(shell: CompletionShell, mut cmd: clap::Command) -> String {
    use clap_complete::Shell;
    let s = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Elvish => Shell::Elvish,
        CompletionShell::Powershell => Shell::PowerShell,
        CompletionShell::Tcsh => return tcsh(&cmd),
    };
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(s, &mut cmd, name, &mut out);
    String::from_utf8_lossy(&out).trim_end().to_string()
}

/// A word tcsh can take inside `(…)` of a `complete` rule.
fn plain(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+:".contains(&b))
}

fn list(words: impl IntoIterator<Item = String>) -> String {
    let mut v: Vec<String> = words.into_iter().filter(|w| plain(w)).collect();
    v.sort();
    v.dedup();
    v.join(" ")
}

fn possible_values(a: &clap::Arg) -> Vec<String> {
    a.get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect()
}

/// tcsh's `complete` for `cmd` (tcsh(1), "complete"): subcommands as the first word, the
/// sub-subcommands after their parent, long options after `--`, an option's or positional's
/// values where clap knows them, files elsewhere. tcsh uses the first rule that matches.
pub fn tcsh(cmd: &clap::Command) -> String {
    let name = cmd.get_name();
    let mut rules: Vec<String> = Vec::new();
    let mut longs: Vec<String> = Vec::new();
    let mut valued: Vec<(String, Vec<String>)> = Vec::new();
    let mut after: Vec<(String, Vec<String>)> = Vec::new();
    fn walk(
        c: &clap::Command,
        longs: &mut Vec<String>,
        valued: &mut Vec<(String, Vec<String>)>,
        after: &mut Vec<(String, Vec<String>)>,
    ) {
        for a in c.get_arguments().filter(|a| !a.is_hide_set()) {
            // A flag (`--json`) takes no value, whatever clap says its bool's values are.
            let values = if a.get_action().takes_values() {
                possible_values(a)
            } else {
                Vec::new()
            };
            if let Some(l) = a.get_long() {
                longs.push(l.to_string());
                if !values.is_empty() {
                    valued.push((format!("--{l}"), values));
                }
            } else if a.is_positional() && !values.is_empty() {
                // A positional with fixed values (`completions SHELL`): after the command.
                after.push((c.get_name().to_string(), values));
            }
        }
        let subs: Vec<String> = c
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_string())
            .collect();
        if !subs.is_empty() {
            after.push((c.get_name().to_string(), subs));
        }
        for s in c.get_subcommands() {
            walk(s, longs, valued, after);
        }
    }
    walk(cmd, &mut longs, &mut valued, &mut after);
    rules.push(format!("'c/--/({})/'", list(longs)));
    valued.sort();
    valued.dedup();
    for (opt, values) in &valued {
        if plain(opt) {
            rules.push(format!("'n/{opt}/({})/'", list(values.clone())));
        }
    }
    let top = after.iter().position(|(c, _)| c == name);
    if let Some(i) = top {
        rules.push(format!("'p/1/({})/'", list(after[i].1.clone())));
    }
    for (i, (c, values)) in after.iter().enumerate() {
        if Some(i) != top && plain(c) {
            rules.push(format!("'n/{c}/({})/'", list(values.clone())));
        }
    }
    rules.push("'p/*/f/'".to_string());
    format!(
        "# tcsh completion for {name}: source this file, or add it to ~/.tcshrc\ncomplete {name} \\\n    {}",
        rules.join(" \\\n    ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn tcsh_rules_name_every_subcommand_and_long_option() {
        let cmd = crate::Cli::command();
        let s = tcsh(&cmd);
        let p1 = s.lines().find(|l| l.contains("'p/1/(")).unwrap();
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            assert!(
                p1.contains(&format!(" {} ", sub.get_name()))
                    || p1.contains(&format!("({} ", sub.get_name()))
                    || p1.contains(&format!(" {})", sub.get_name())),
                "{}",
                sub.get_name()
            );
        }
        assert!(s.contains("'n/template/(build list rm)/'"), "{s}");
        assert!(
            s.contains("'n/completions/(bash elvish fish powershell tcsh zsh)/'"),
            "{s}"
        );
        assert!(s.lines().next().unwrap().starts_with('#'));
        assert!(s.contains(" sim-state "), "long options after --");
        assert!(!s.contains("(false true)"), "flags take no value: {s}");
    }

    /// tcsh itself reads the script (where tcsh is installed; CI installs it).
    #[test]
    fn tcsh_accepts_the_script() {
        if std::process::Command::new("tcsh")
            .arg("-fc")
            .arg("exit 0")
            .status()
            .is_err()
        {
            eprintln!("SKIP: no tcsh");
            return;
        }
        let dir = std::env::temp_dir().join(format!("cudajail-tcsh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("cudajail.tcsh");
        std::fs::write(&f, tcsh(&crate::Cli::command())).unwrap();
        let out = std::process::Command::new("tcsh")
            .arg("-fc")
            .arg(format!("source {}; complete cudajail", f.display()))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            shown.contains("p/1/(") && shown.contains("n/template/(build list rm)/"),
            "{shown}"
        );
    }
}
