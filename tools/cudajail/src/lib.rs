//! `cudajail`: Linux CUDA programs on FreeBSD, in a Linux jail on ZFS or under the Linuxulator.
//!
//! This is the library behind the `cudajail` command, for integrators (jail managers, node
//! agents) who embed the flow. [`run`] takes parsed arguments and returns what to print.
//!
//! Exit codes of the command: 0 success, 1 the operation failed, 2 usage or spec error.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod doctor;
pub mod engine;
pub mod export;
#[cfg(target_os = "freebsd")]
pub mod native;
pub mod plan;
pub mod recording;
#[cfg(unix)]
pub mod rootfs;
pub mod shim;
pub mod spec;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "cudajail",
    version,
    about = "Linux CUDA programs on FreeBSD, in a Linux jail on ZFS",
    after_help = "Exit codes: 0 success, 1 the operation failed, 2 usage or spec error."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every step `up` would take for a spec (the built-in default without a file); changes nothing.
    Plan {
        /// Spec file (TOML); every field has a default.
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also list the exact kernel calls `up` would make on this host: the engine runs against
        /// a copy of the host made with read-only queries (needs FreeBSD, or `--sim`).
        #[arg(long)]
        exact: bool,
        /// With `--exact`: copy a simulated FreeBSD 14 host with one GPU instead of this one.
        #[arg(long, requires = "exact")]
        sim: bool,
    },
    /// Write the jail as jail.conf(5), devfs.rules(5), fstab(5) and a CDI JSON device spec, for
    /// base-system tools and jail managers to take over.
    Export {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Directory to write `jail.conf`, `devfs.rules`, `fstab` and `cdi.json` into (created;
        /// existing files are not overwritten); without it everything is printed.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Reformat a jail.conf(5) file in the canonical style (comments kept); `--check` only says
    /// whether it is already formatted (exit 1 if not).
    Fmt {
        /// The jail.conf file.
        file: PathBuf,
        /// Do not print; exit 1 when the file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Create the CUDA jail (every step not done yet; undone on failure).
    Up {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Also make the host setup survive a reboot (rc.conf: linux_enable, kld_list), like
        /// `persist_config = true` in the spec.
        #[arg(long)]
        persist: bool,
        /// Run against a simulated FreeBSD host with one GPU (any OS; nothing real changes).
        #[arg(long)]
        sim: bool,
        /// Machine-readable report.
        #[arg(long)]
        json: bool,
    },
    /// Remove exactly what `up` made: jail, mounts, devfs ruleset, dataset (never host data).
    Destroy {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Also destroy a dataset cudajail did not create.
        #[arg(long)]
        force: bool,
        /// Run against a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// Start a stopped jail again (the same idempotent steps as `up`).
    Start {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Run against a simulated host.
        #[arg(long)]
        sim: bool,
    },
    /// Stop the jail: remove it and unmount its file systems; the dataset and files stay.
    Stop {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Run against a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// Show the jail: running or not, mounts, ruleset, journal.
    Status {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Show it on a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// Run a command inside the jail (FreeBSD; `--sim` understands only `cc`, `/sbin/ldconfig`, NVIDIA's installer and the CUDA check).
    Exec {
        /// The jail's name.
        name: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
        /// Run on a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// After a host NVIDIA driver upgrade: put the same version's Linux libraries into the jail.
    SyncDriver {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Run on a simulated host on which `up` ran, then the driver was upgraded.
        #[arg(long)]
        sim: bool,
    },
    /// Run a Linux CUDA program directly under the Linuxulator (no jail): prepares the host
    /// (modules, /dev/shm, uvm shim in the Linux root's ld.so.preload) and runs it.
    Run {
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
        /// Prepare a simulated host instead (the program is not run).
        #[arg(long)]
        sim: bool,
    },
    /// Print the uvm shim's C source (to build it in a Linux root).
    ShimSource,
    /// Manage the per-suite template the jails are cloned from.
    Template {
        /// What to do.
        #[command(subcommand)]
        cmd: TemplateCmd,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `cudajail man | man -l -`).
    Man,
    /// List the cudajail jails on this host.
    List {
        /// Spec file naming the pool (the built-in default without one).
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// List on a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// Check whether this host is ready for CUDA jails; every problem comes with the command
    /// that fixes it. Exits 1 when a check fails.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Check a simulated FreeBSD 14 host with one GPU instead of this one (for trying the
        /// tool on any OS).
        #[arg(long)]
        sim: bool,
    },
}

/// `cudajail template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Build the template for the spec's suite (debootstrap, fixes, snapshot) if missing.
    Build {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Run against a simulated host.
        #[arg(long)]
        sim: bool,
    },
    /// List the templates and the jails cloned from each.
    List {
        /// Spec file naming the pool.
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// List on a simulated host on which `up` ran first.
        #[arg(long)]
        sim: bool,
    },
    /// Remove a template no jail is cloned from.
    Rm {
        /// The suite: noble, jammy, bookworm, trixie.
        suite: String,
        /// Spec file naming the pool.
        spec: Option<PathBuf>,
        /// Run on a simulated host on which a template was built first.
        #[arg(long)]
        sim: bool,
    },
}

/// Why a run failed, mapped to an exit code by the binary.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or spec: exit 2.
    Usage(String),
    /// The operation failed: exit 1.
    Failed(anyhow::Error),
    /// A report to print on standard output, whose findings make the run fail (exit 1).
    Report {
        /// The report (text or JSON).
        out: String,
        /// One line for standard error.
        summary: String,
    },
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Failed(_) | Failure::Report { .. } => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) => write!(f, "{m}"),
            Failure::Failed(e) => write!(f, "{e:#}"),
            Failure::Report { summary, .. } => f.write_str(summary),
        }
    }
}

/// Loads and validates a spec (the default when `path` is `None`).
///
/// # Errors
/// [`Failure::Usage`] listing every problem with its field path.
pub fn load_spec(path: Option<&std::path::Path>) -> Result<spec::Valid, Failure> {
    let s = match path {
        None => spec::Spec::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::Usage(format!("cannot read spec {}: {e}", p.display())))?;
            spec::parse(&text).map_err(|e| Failure::Usage(format!("spec {}: {e}", p.display())))?
        }
    };
    s.validate(None).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        Failure::Usage(format!(
            "the spec has {} problem(s):\n{}",
            problems.len(),
            lines.join("\n")
        ))
    })
}

/// Renders doctor checks as a table or JSON; fails when any check fails.
fn report_doctor(checks: &[linuxulator::readiness::Check], json: bool) -> Result<String, Failure> {
    use linuxulator::readiness::Status;
    let text = if json {
        serde_json::to_string_pretty(checks).map_err(|e| Failure::Failed(e.into()))?
    } else {
        let mut t = String::new();
        for c in checks {
            let s = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            t.push_str(&format!("{s} {:<22} {}\n", c.id, c.evidence));
            if let Some(f) = &c.fix {
                t.push_str(&format!("     {:<22} fix: {f}\n", ""));
            }
        }
        t
    };
    if checks.iter().any(|c| c.status == Status::Fail) {
        let n = checks.iter().filter(|c| c.status == Status::Fail).count();
        return Err(Failure::Report {
            out: text,
            summary: format!("{n} check(s) failed; run the fix commands as root"),
        });
    }
    Ok(text)
}

/// On the simulated host, runs `up` first so that there is a jail to act on; returns the plan.
fn sim_up_first(env: &engine::Env<'_>, v: &spec::Valid, sim: bool) -> anyhow::Result<plan::Plan> {
    let p = engine::plan(env, v)?;
    if sim {
        engine::up(env, v, &p)?;
    }
    Ok(p)
}

/// Simulates a host driver upgrade for `sync-driver --sim`: a newer kernel module and its Linux
/// libraries.
fn sim_upgrade_driver(h: &hostsim::SimHost) {
    let new = "580.105.08";
    h.set_nvidia_version(new);
    h.with_state(|s| {
        s.sysctls.insert(
            "hw.nvidia.version".into(),
            format!("NVIDIA UNIX x86_64 Kernel Module  {new}  Release Build"),
        );
        for lib in ["libcuda.so", "libnvidia-ml.so"] {
            let _ = s.write_file(&format!("/compat/linux/usr/lib64/{lib}.{new}"), b"");
        }
    });
}

/// Runs `f` against the simulated host (`sim`) or this FreeBSD host.
fn with_env(
    sim: bool,
    v: &spec::Valid,
    f: impl FnOnce(&engine::Env<'_>) -> anyhow::Result<String>,
) -> Result<String, Failure> {
    with_env_prep(sim, v, |_| {}, f)
}

/// As [`with_env`], with a preparation of the simulated host before `f` runs.
fn with_env_prep(
    sim: bool,
    v: &spec::Valid,
    prep: impl FnOnce(&hostsim::SimHost),
    f: impl FnOnce(&engine::Env<'_>) -> anyhow::Result<String>,
) -> Result<String, Failure> {
    if sim {
        let h = hostsim::SimHost::freebsd14_cuda_ready(1);
        prep(&h);
        return f(&engine::sim_env(&h)).map_err(Failure::Failed);
    }
    let _ = (v, prep);
    #[cfg(target_os = "freebsd")]
    {
        let host = native::Host::new(None);
        f(&host.env()).map_err(Failure::Failed)
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = f;
        Err(Failure::Failed(anyhow::anyhow!(
            "this command needs a FreeBSD host and this is {}; try it with --sim",
            std::env::consts::OS
        )))
    }
}

fn doctor(json: bool, sim: bool) -> Result<String, Failure> {
    if sim {
        let h = hostsim::SimHost::freebsd14_with_gpus(1);
        return report_doctor(&doctor::doctor(&h, &h, &h, &h), json);
    }
    #[cfg(target_os = "freebsd")]
    {
        let (k, l) = (kld::KldHost, linuxulator::LinuxHost);
        report_doctor(
            &doctor::doctor(&k, &l, &l, &linuxulator::readiness::StdFs),
            json,
        )
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = json;
        Err(Failure::Failed(anyhow::anyhow!(
            "doctor checks a FreeBSD host and this is {}; run it on FreeBSD, or try `cudajail doctor --sim`",
            std::env::consts::OS
        )))
    }
}

/// Runs a command and returns its output text.
///
/// # Errors
/// See [`Failure`].
pub fn run(cli: &Cli) -> Result<String, Failure> {
    match &cli.command {
        Command::Doctor { json, sim } => doctor(*json, *sim),
        Command::Up {
            spec,
            persist,
            sim,
            json,
        } => {
            let mut v = load_spec(spec.as_deref())?;
            v.spec.persist_config |= *persist;
            with_env(*sim, &v, |env| {
                let p = engine::plan(env, &v)?;
                use std::io::IsTerminal;
                let tty = std::io::stderr().is_terminal();
                let mut n = 0;
                let mut progress = |id: &str| {
                    n += 1;
                    if tty {
                        let bar = "#".repeat(n) + &".".repeat(engine::STEPS.len() - n);
                        eprint!("\r[{bar}] {n}/{} {id:<9}", engine::STEPS.len());
                    }
                };
                let r = engine::up_with_progress(env, &v, &p, &mut progress);
                if tty {
                    eprintln!();
                }
                let r = r?;
                Ok(if *json {
                    serde_json::to_string_pretty(&r)?
                } else {
                    let mut t: String = r
                        .iter()
                        .map(|s| format!("{:<9} {}\n", s.id, s.outcome))
                        .collect();
                    t.push_str(&format!(
                        "jail {} is up at {}; run Linux programs with `cudajail exec {} -- <program>`{}",
                        p.name,
                        p.root,
                        p.name,
                        if v.spec.cuda_check {
                            format!(
                                " (the CUDA check again: `cudajail exec {} -- {}`)",
                                p.name,
                                shim::PROBE_PATH
                            )
                        } else {
                            String::new()
                        }
                    ));
                    t
                })
            })
        }
        Command::Destroy { spec, force, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                if *sim {
                    let p = engine::plan(env, &v)?;
                    engine::up(env, &v, &p)?;
                }
                let p = engine::plan(env, &v)?;
                Ok(engine::destroy(env, &v, &p, *force)?.join("\n"))
            })
        }
        Command::Start { spec, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                let p = engine::plan(env, &v)?;
                let r = engine::up(env, &v, &p)?;
                Ok(r.iter()
                    .map(|s| format!("{:<9} {}", s.id, s.outcome))
                    .collect::<Vec<_>>()
                    .join("\n"))
            })
        }
        Command::Stop { spec, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                let p = sim_up_first(env, &v, *sim)?;
                Ok(engine::stop(env, &p)?.join("\n"))
            })
        }
        Command::Status { spec, json, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                sim_up_first(env, &v, *sim)?;
                let st = engine::list(env, &v.pool)?;
                let me = st
                    .into_iter()
                    .find(|j| j.name == v.name.as_str())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no cudajail jail {} on pool {}; create it with `cudajail up`",
                            v.name,
                            v.pool
                        )
                    })?;
                Ok(if *json {
                    serde_json::to_string_pretty(&me)?
                } else {
                    format!(
                        "jail:    {}\nrunning: {}\ndataset: {}\nmounts:  {}\nruleset: {}\njournal: {}",
                        me.name,
                        me.jid.map_or("no".to_string(), |j| format!("yes (jid {j})")),
                        me.dataset,
                        me.mounts,
                        me.ruleset.as_deref().unwrap_or("-"),
                        me.journal.as_deref().unwrap_or("-")
                    )
                })
            })
        }
        Command::Exec { name, command, sim } => {
            let jn = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
            // The simulated host gets the default jail first; the command runs in the named one.
            let v = load_spec(None)?;
            let argv: Vec<&str> = command.iter().map(String::as_str).collect();
            with_env(*sim, &v, |env| {
                sim_up_first(env, &v, *sim)?;
                let j = env.jail.get(&jn)?.ok_or_else(|| {
                    anyhow::anyhow!("jail {name} is not running; start it with `cudajail start`")
                })?;
                let (code, out) = env.exec.exec(j.jid, &argv)?;
                if code != 0 {
                    anyhow::bail!("{}\n{} exited with {code}", out.trim_end(), argv[0]);
                }
                Ok(out)
            })
        }
        Command::SyncDriver { spec, sim } => {
            let v = load_spec(spec.as_deref())?;
            let prep = |h: &hostsim::SimHost| {
                let env = engine::sim_env(h);
                if let Ok(p) = engine::plan(&env, &v) {
                    let _ = engine::up(&env, &v, &p);
                }
                sim_upgrade_driver(h);
            };
            with_env_prep(*sim, &v, prep, |env| {
                let p = engine::plan(env, &v)?;
                Ok(engine::sync_driver(env, &p)?.join("\n"))
            })
        }
        Command::Template { cmd } => match cmd {
            TemplateCmd::Build { spec, sim } => {
                let v = load_spec(spec.as_deref())?;
                with_env(*sim, &v, |env| {
                    let p = engine::plan(env, &v)?;
                    let r = engine::template_build(env, &v, &p)?;
                    Ok(format!("{}: {} ({})", r.id, r.outcome, p.template))
                })
            }
            TemplateCmd::List { spec, json, sim } => {
                let v = load_spec(spec.as_deref())?;
                with_env(*sim, &v, |env| {
                    sim_up_first(env, &v, *sim)?;
                    let l = engine::template_list(env, &v.pool)?;
                    Ok(if *json {
                        serde_json::to_string_pretty(&l)?
                    } else {
                        l.iter()
                            .map(|t| {
                                format!(
                                    "{:<10} {:<40} jails: {}",
                                    t.suite,
                                    t.snapshot.as_deref().unwrap_or("(not built)"),
                                    if t.clones.is_empty() {
                                        "-".to_string()
                                    } else {
                                        t.clones.join(", ")
                                    }
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                })
            }
            TemplateCmd::Rm { suite, spec, sim } => {
                let v = load_spec(spec.as_deref())?;
                let su: linuxulator::Suite = suite
                    .parse()
                    .map_err(|e: linuxulator::Error| Failure::Usage(e.to_string()))?;
                with_env(*sim, &v, |env| {
                    if *sim {
                        let p = engine::plan(env, &v)?;
                        engine::template_build(env, &v, &p)?;
                    }
                    Ok(engine::template_rm(env, &v.pool, su)?
                        .iter()
                        .map(|d| format!("destroyed {d}"))
                        .collect::<Vec<_>>()
                        .join("\n"))
                })
            }
        },
        Command::Run { command, sim } => {
            let v = load_spec(None)?;
            let prep = |h: &hostsim::SimHost| {
                // A Linux root with the shim built, as the error message tells a user to do.
                let _ = h.with_state(|s| {
                    s.write_file(&format!("/compat/linux{}", shim::SHIM_PATH), b"ELF")
                });
            };
            with_env_prep(*sim, &v, prep, |env| {
                let mut out = engine::run_prepare(env)?;
                if *sim {
                    out.push(format!("would run: {}", command.join(" ")));
                    return Ok(out.join("\n"));
                }
                for l in &out {
                    eprintln!("cudajail: {l}");
                }
                let st = std::process::Command::new(&command[0])
                    .args(&command[1..])
                    .status()?;
                if !st.success() {
                    anyhow::bail!("{} exited with {st}", command[0]);
                }
                Ok(String::new())
            })
        }
        Command::ShimSource => Ok(shim::UVM_SHIM_C.trim_end().to_string()),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "cudajail", &mut out);
            Ok(String::from_utf8_lossy(&out).trim_end().to_string())
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Failure::Failed(e.into()))?;
            Ok(String::from_utf8_lossy(&out).trim_end().to_string())
        }
        Command::List { spec, json, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                if *sim {
                    let p = engine::plan(env, &v)?;
                    engine::up(env, &v, &p)?;
                }
                let l = engine::list(env, &v.pool)?;
                Ok(if *json {
                    serde_json::to_string_pretty(&l)?
                } else {
                    let mut t = format!(
                        "{:<16} {:<6} {:<7} {:<8} dataset\n",
                        "name", "jid", "mounts", "ruleset"
                    );
                    for j in &l {
                        t.push_str(&format!(
                            "{:<16} {:<6} {:<7} {:<8} {}\n",
                            j.name,
                            j.jid.map_or("-".to_string(), |x| x.to_string()),
                            j.mounts,
                            j.ruleset.as_deref().unwrap_or("-"),
                            j.dataset
                        ));
                    }
                    t
                })
            })
        }
        Command::Export { spec, out } => {
            let v = load_spec(spec.as_deref())?;
            let p = plan::build(&v, &[], false).map_err(Failure::Failed)?;
            let gpus = export::gpu_minors(&v.gpus).map_err(Failure::Failed)?;
            let e = export::export(&v, &p, &gpus).map_err(Failure::Failed)?;
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
                        "wrote jail.conf, devfs.rules, fstab and cdi.json to {}",
                        dir.display()
                    ))
                }
            }
        }
        Command::Fmt { file, check } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
            let c = jail::conf::JailConf::parse(&text, &file.display().to_string())
                .map_err(|e| Failure::Failed(e.into()))?;
            let out = c.to_string();
            if *check {
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
        Command::Plan {
            spec,
            json,
            exact: true,
            sim,
        } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                let (calls, outcome) = recording::exact_plan(env, &v)?;
                let changes: Vec<_> = calls.iter().filter(|c| c.changes_host).collect();
                if *json {
                    return Ok(serde_json::to_string_pretty(&serde_json::json!({
                        "calls": changes,
                        "would_succeed": outcome.is_ok(),
                        "error": outcome.as_ref().err(),
                    }))?);
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
                match outcome {
                    Ok(()) => t.push_str("and would succeed."),
                    Err(e) => t.push_str(&format!("and would fail (then undo them): {e}")),
                }
                Ok(t)
            })
        }
        Command::Plan { spec, json, .. } => {
            let v = load_spec(spec.as_deref())?;
            let p = plan::build(&v, &[], false).map_err(Failure::Failed)?;
            if *json {
                serde_json::to_string_pretty(&p).map_err(|e| Failure::Failed(e.into()))
            } else {
                Ok(p.to_string())
            }
        }
    }
}
