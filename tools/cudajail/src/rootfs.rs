//! Root file systems on a real host: symlink-safe writes and debootstrap (FreeBSD and Linux).

use crate::engine::{Bootstrap, RootFs};
use anyhow::{anyhow, bail, Context};
use linuxulator::Suite;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Host files through `std::fs`, refusing symlinks and `..` below a root.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdRootFs;

fn walk(root: &str, rel: &str, create: bool) -> anyhow::Result<PathBuf> {
    let mut cur = PathBuf::from(root);
    if !std::fs::symlink_metadata(&cur)
        .with_context(|| root.to_string())?
        .is_dir()
    {
        bail!("{root}: not a directory");
    }
    for c in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            bail!("{rel}: '..' is not allowed below a jail root");
        }
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                bail!("{} is a symlink; refusing to follow it", cur.display())
            }
            Ok(_) => {}
            Err(_) if create => {
                std::fs::create_dir(&cur).with_context(|| cur.display().to_string())?
            }
            Err(_) => {}
        }
    }
    Ok(cur)
}

/// The path of the file `root/rel` to be written: its directory reached without symlinks or
/// `..`, and the file itself not a symlink.
fn file_beneath(root: &str, rel: &str) -> anyhow::Result<PathBuf> {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let path = walk(root, dir, false)?.join(file);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "{} is a symlink; refusing to write through it",
            path.display()
        );
    }
    Ok(path)
}

/// Replaces `path` with `data` atomically: a new file next to it (created exclusively, so never
/// through a planted link), synced, given the old file's mode and owner, then renamed over it.
/// On any error the old file is untouched and the temporary one removed.
fn write_atomic(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_atomic_from(path, &mut &data[..])
}

/// [`write_atomic`] from a reader (a file is streamed, never held in memory).
fn write_atomic_from(path: &Path, data: &mut dyn std::io::Read) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let ctx = || path.display().to_string();
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: no file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".cudajail-tmp");
    let tmp = path.with_file_name(tmp_name);
    // A leftover from an interrupted run (or anything planted there): remove the entry itself;
    // remove_file never follows a symlink.
    if std::fs::symlink_metadata(&tmp).is_ok() {
        std::fs::remove_file(&tmp).with_context(|| tmp.display().to_string())?;
    }
    let old = std::fs::metadata(path).ok();
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(old.as_ref().map_or(0o644, |m| m.mode() & 0o7777))
            .open(&tmp)?;
        std::io::copy(data, &mut f)?;
        if let Some(m) = &old {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
            f.set_permissions(m.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(ctx)
}

impl RootFs for StdRootFs {
    fn mkdir_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()> {
        walk(root, rel, true).map(|_| ())
    }
    fn write_beneath(&self, root: &str, rel: &str, data: &[u8]) -> anyhow::Result<()> {
        write_atomic(&file_beneath(root, rel)?, data)
    }
    fn copy_in(&self, src: &str, root: &str, rel: &str) -> anyhow::Result<()> {
        let path = file_beneath(root, rel)?;
        let mut f = std::fs::File::open(src).with_context(|| src.to_string())?;
        write_atomic_from(&path, &mut f)
    }
    fn remove_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()> {
        let path = walk(root, rel, false)?;
        std::fs::remove_file(&path).with_context(|| path.display().to_string())
    }
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }
}

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
    fn bootstrap(&self, suite: Suite, dir: &str, include: &[&str]) -> anyhow::Result<()> {
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

    #[test]
    fn writes_are_atomic_binary_safe_and_never_follow_symlinks() {
        let root = std::env::temp_dir().join(format!("cj-rootfs-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let r = root.to_str().unwrap();
        let fs = StdRootFs;
        fs.mkdir_beneath(r, "usr/lib").unwrap();
        let bytes: Vec<u8> = (0..=255u8).collect();
        fs.write_beneath(r, "usr/lib/libx.so.1", &bytes).unwrap();
        assert_eq!(fs.read(&format!("{r}/usr/lib/libx.so.1")).unwrap(), bytes);
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert!(
            fs.write_beneath(r, "etc/passwd", b"x").is_err(),
            "never through a symlink"
        );
        assert!(fs.mkdir_beneath(r, "etc/x").is_err());
        assert!(fs.write_beneath(r, "../escape", b"x").is_err());
        std::os::unix::fs::symlink("/etc/hostname", root.join("usr/lib/link")).unwrap();
        assert!(
            fs.write_beneath(r, "usr/lib/link", b"x").is_err(),
            "never onto a symlink"
        );
        assert!(fs.remove_beneath(r, "etc/hostname").is_err());
        // Replacing keeps the old file's mode; a link planted at the temporary name is not
        // followed (it is removed, and its target untouched).
        use std::os::unix::fs::PermissionsExt;
        let shadow = root.join("usr/lib/shadow");
        std::fs::write(&shadow, b"old").unwrap();
        std::fs::set_permissions(&shadow, std::fs::Permissions::from_mode(0o640)).unwrap();
        let outside = std::env::temp_dir().join(format!("cj-outside-{}", std::process::id()));
        std::fs::write(&outside, b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("usr/lib/.shadow.cudajail-tmp")).unwrap();
        fs.write_beneath(r, "usr/lib/shadow", b"new").unwrap();
        assert_eq!(std::fs::read(&shadow).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&shadow).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        std::fs::remove_file(&outside).unwrap();
        fs.remove_beneath(r, "usr/lib/shadow").unwrap();
        // A host file streamed in.
        let src = root.join("src.bin");
        std::fs::write(&src, &bytes).unwrap();
        fs.copy_in(src.to_str().unwrap(), r, "usr/lib/copy.bin")
            .unwrap();
        assert_eq!(std::fs::read(root.join("usr/lib/copy.bin")).unwrap(), bytes);
        assert!(fs
            .copy_in(src.to_str().unwrap(), r, "usr/lib/link")
            .is_err());
        fs.remove_beneath(r, "usr/lib/copy.bin").unwrap();
        fs.remove_beneath(r, "usr/lib/libx.so.1").unwrap();
        assert_eq!(
            std::fs::read_dir(root.join("usr/lib")).unwrap().count(),
            1,
            "only the planted link, no temp files"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
