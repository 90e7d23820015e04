//! Root file systems on a real host: debootstrap (FreeBSD and Linux). File access below a root is
//! the `rootfs` crate's (`rootfs::Beneath`).

use crate::engine::Bootstrap;
use anyhow::{anyhow, bail, Context};
use linuxulator::Suite;
use std::path::Path;
use std::process::Command;

/// debootstrap in two stages, as on FreeBSD: `--foreign` first, then the second stage
/// chrooted into the new tree (Linux binaries, run by the Linuxulator).
#[derive(Debug, Default, Clone)]
pub struct Debootstrap {
    /// A mirror to use instead of debootstrap's default.
    pub mirror: Option<String>,
    /// Called with a one-line status (see [`BootstrapProgress`]) whenever debootstrap reports a
    /// package; `None`: quiet.
    pub progress: Option<fn(&str)>,
}

/// Follows debootstrap's `I:` lines (its standard output) through both stages and renders a
/// status: how many packages were retrieved in the first stage, then a bar for extracting,
/// unpacking and configuring them (the retrieved count is the total).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BootstrapProgress {
    /// Packages retrieved (the total for the later phases).
    pub retrieved: usize,
    /// The current phase (`retrieving`, `extracting`, `unpacking`, `configuring`, `done`).
    pub phase: &'static str,
    /// Packages through the current phase (debootstrap unpacks and configures in two rounds,
    /// required then base: the count runs on across both).
    pub done: usize,
    /// Per phase: retrieving, extracting, unpacking, configuring.
    counts: [usize; 4],
}

impl BootstrapProgress {
    /// Takes one output line; returns the new status when the line moved it. Never panics.
    pub fn feed(&mut self, line: &str) -> Option<String> {
        let msg = line.strip_prefix("I: ")?;
        let word = msg.split(' ').next().unwrap_or_default();
        let phase = match word {
            "Retrieving"
                if !["Release", "InRelease", "Packages"]
                    .iter()
                    .any(|w| msg.starts_with(&format!("Retrieving {w}"))) =>
            {
                "retrieving"
            }
            "Extracting" => "extracting",
            "Unpacking"
                if msg.ends_with("...")
                    && !msg.starts_with("Unpacking required")
                    && !msg.starts_with("Unpacking the base") =>
            {
                "unpacking"
            }
            "Configuring"
                if msg.ends_with("...")
                    && !msg.starts_with("Configuring required")
                    && !msg.starts_with("Configuring the base") =>
            {
                "configuring"
            }
            "Base" if msg.starts_with("Base system installed successfully") => "done",
            _ => return None,
        };
        self.phase = phase;
        let i = ["retrieving", "extracting", "unpacking", "configuring"]
            .iter()
            .position(|p| *p == phase);
        if let Some(i) = i {
            self.counts[i] += 1;
            self.done = self.counts[i];
        }
        self.retrieved = self.counts[0];
        Some(self.render())
    }

    /// The status line: `debootstrap: retrieving 57 packages` or
    /// `debootstrap: unpacking  23/57 [########------------]`.
    #[must_use]
    pub fn render(&self) -> String {
        match self.phase {
            "retrieving" => format!("debootstrap: retrieving {} packages", self.done),
            "done" => format!("debootstrap: {} packages installed", self.retrieved),
            p if self.retrieved > 0 => {
                let width = 20;
                let filled = (self.done.min(self.retrieved) * width) / self.retrieved;
                format!(
                    "debootstrap: {p:<11} {:>3}/{} [{}{}]",
                    self.done,
                    self.retrieved,
                    "#".repeat(filled),
                    "-".repeat(width - filled)
                )
            }
            p => format!("debootstrap: {p} {}", self.done),
        }
    }
}

/// The first-stage command line (pure, so it is tested here).
pub fn debootstrap_args(
    suite: Suite,
    dir: &str,
    foreign: bool,
    include: &[&str],
    mirror: Option<&str>,
) -> Vec<String> {
    let mut a = vec!["--arch=amd64".to_string(), "--variant=minbase".to_string()];
    if foreign {
        a.push("--foreign".into());
    }
    if !include.is_empty() {
        a.push(format!("--include={}", include.join(",")));
    }
    if matches!(suite, Suite::Bookworm | Suite::Trixie) {
        // "Couldn't find these debs: usr-is-merged" otherwise.
        a.push("--exclude=usr-is-merged".into());
    }
    a.push(suite.as_str().into());
    a.push(dir.into());
    if let Some(m) = mirror {
        a.push(m.into());
    }
    a
}

/// A [`Debootstrap::progress`] for a terminal: rewrites one status line on standard error.
pub fn show_on_terminal(status: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let end = if status.ends_with("installed") {
        "\n"
    } else {
        ""
    };
    let _ = write!(e, "\r\x1b[K{status}{end}");
    let _ = e.flush();
}

/// Runs `cmd`, feeding each line of its standard output to `progress` (and the status to
/// `show`); on failure the error carries the last lines it printed.
fn run_watched(
    cmd: &mut Command,
    progress: &mut BootstrapProgress,
    show: fn(&str),
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader, Read};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("{cmd:?}"))?;
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut last: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(status) = progress.feed(&line) {
                show(&status);
            }
            last.push_back(line);
            if last.len() > 8 {
                last.pop_front();
            }
        }
    }
    let status = child.wait().with_context(|| format!("{cmd:?}"))?;
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        last.extend(err.lines().map(String::from));
        let tail: Vec<String> = last.iter().rev().take(8).rev().cloned().collect();
        bail!("{cmd:?} failed ({status}):\n{}", tail.join("\n"));
    }
    Ok(())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}

impl Bootstrap for Debootstrap {
    fn bootstrap(&self, suite: &str, dir: &str, include: &[&str]) -> rootfs::Result<()> {
        let as_error = |e: anyhow::Error| {
            rootfs::Error::new(
                rootfs::Op::Bootstrap,
                rootfs::ErrorKind::Other,
                format!("{e:#}"),
            )
            .subject(dir)
        };
        let suite: Suite = suite
            .parse()
            .map_err(|e: linuxulator::Error| as_error(e.into()))?;
        self.run(suite, dir, include).map_err(as_error)
    }
}

impl Debootstrap {
    fn run(&self, suite: Suite, dir: &str, include: &[&str]) -> anyhow::Result<()> {
        let mut progress = BootstrapProgress::default();
        let show = self.progress.unwrap_or(|_| {});
        run_watched(
            Command::new("debootstrap").args(debootstrap_args(
                suite,
                dir,
                true,
                include,
                self.mirror.as_deref(),
            )),
            &mut progress,
            show,
        )
        .context("debootstrap first stage (pkg install debootstrap)")?;
        // On FreeBSD the second stage runs Linux binaries under the Linuxulator: they need
        // linprocfs, linsysfs and devfs in the new tree (debootstrap's own `mount -t proc` fails
        // there). They are unmounted again whatever happens.
        let pseudo: &[(&str, &str)] = if cfg!(target_os = "freebsd") {
            &[("devfs", "dev"), ("linprocfs", "proc"), ("linsysfs", "sys")]
        } else {
            &[]
        };
        let mut mounted = Vec::new();
        for (fs, at) in pseudo {
            let target = format!("{dir}/{at}");
            std::fs::create_dir_all(&target).with_context(|| target.clone())?;
            run(Command::new("mount").args(["-t", fs, fs]).arg(&target))?;
            mounted.push(target);
        }
        let second = run_watched(
            Command::new("chroot")
                .arg(dir)
                .args(["/debootstrap/debootstrap", "--second-stage"]),
            &mut progress,
            show,
        )
        .context("debootstrap second stage (needs the Linux ABI loaded)");
        for m in mounted.iter().rev() {
            let _ = Command::new("umount").arg(m).status();
        }
        second?;
        if !Path::new(dir).join("etc/passwd").exists() {
            return Err(anyhow!("the second stage left no /etc/passwd in {dir}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "I: Retrieving InRelease \nI: Checking Release signature\nI: Retrieving Packages \nI: Retrieving adduser 3.134\nI: Validating adduser 3.134\nI: Retrieving apt 2.6.1\nI: Retrieving libc6 2.36-9\nI: Extracting adduser...\nI: Extracting apt...\nI: Extracting libc6...\nI: Installing core packages...\nI: Unpacking required packages...\nI: Unpacking libc6:amd64...\nI: Configuring required packages...\nI: Configuring libc6:amd64...\nI: Unpacking the base system...\nI: Unpacking adduser...\nI: Unpacking apt...\nI: Configuring the base system...\nI: Configuring adduser...\nI: Configuring apt...\nI: Base system installed successfully.\n";

    #[test]
    fn debootstrap_progress_follows_both_stages() {
        let mut p = BootstrapProgress::default();
        let shown: Vec<String> = LOG.lines().filter_map(|l| p.feed(l)).collect();
        assert_eq!(shown[0], "debootstrap: retrieving 1 packages");
        assert_eq!(shown[2], "debootstrap: retrieving 3 packages");
        assert_eq!(
            shown[5],
            "debootstrap: extracting    3/3 [####################]"
        );
        assert_eq!(
            shown[6],
            "debootstrap: unpacking     1/3 [######--------------]"
        );
        // The base round continues the count of the required round.
        assert!(
            shown.contains(&"debootstrap: unpacking     3/3 [####################]".to_string())
        );
        assert!(
            shown.contains(&"debootstrap: configuring   3/3 [####################]".to_string())
        );
        assert_eq!(shown.last().unwrap(), "debootstrap: 3 packages installed");
        assert_eq!(shown.len(), 13, "{shown:#?}");
    }

    proptest::proptest! {
        #[test]
        fn debootstrap_progress_never_panics(lines in proptest::collection::vec("(I: )?[A-Za-z .:]{0,30}", 0..50)) {
            let mut p = BootstrapProgress::default();
            for l in &lines {
                let _ = p.feed(l);
            }
            let _ = p.render();
        }
    }
}
