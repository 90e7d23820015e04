//! One function per command (ripgrep's layout), and what they share: the spec loader, the
//! choice of host (`--sim` or this FreeBSD host) and the failure type the binary maps to exit
//! codes. `run` dispatches the parsed command line.

pub(crate) mod completions;
mod devfs;
mod exec;
mod lifecycle;
mod plan;
mod template;
mod up;

use crate::cli::{Cli, Command};
use crate::{engine, spec};

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

/// What a command acts on: a spec (a file, or the default), or a managed jail by name (its
/// spec is read from its dataset inside the command, on the host).
pub(crate) enum Target {
    /// A spec file or the built-in default.
    Spec(Box<spec::Valid>),
    /// A jail's name.
    Name(jail::JailName),
}

/// Reads a command's `[NAME|SPEC]` argument: an existing file is a spec; otherwise a jail name.
pub(crate) fn target(arg: Option<&std::path::Path>) -> Result<Target, Failure> {
    let Some(a) = arg else {
        return Ok(Target::Spec(Box::new(load_spec(None)?)));
    };
    if a.exists() {
        return Ok(Target::Spec(Box::new(load_spec(Some(a))?)));
    }
    let text = a.to_string_lossy();
    if text.contains('/') || text.ends_with(".toml") {
        return Err(Failure::Usage(format!(
            "cannot read spec {text}: no such file"
        )));
    }
    jail::JailName::new(&text).map(Target::Name).map_err(|e| {
        Failure::Usage(format!(
            "{text:?} is neither a spec file nor a jail name ({e})"
        ))
    })
}

/// The spec of a target, on the host: a jail's own, kept on its dataset (pool `zroot`, the
/// default spec's).
pub(crate) fn resolve(env: &engine::Env<'_>, t: &Target) -> anyhow::Result<spec::Valid> {
    match t {
        Target::Spec(v) => Ok((**v).clone()),
        Target::Name(n) => {
            let pool = spec::Spec::default()
                .validate(None)
                .map_err(|_| anyhow::anyhow!("the default spec is invalid"))?
                .pool;
            engine::stored_spec(env, &pool, n)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{n} is neither a spec file nor a jail cudajail made on pool {pool} (see \
                     `cudajail list`)"
                )
            })
        }
    }
}

/// Where the simulated host is kept between commands (`--sim-state`, `$CUDAJAIL_SIM_STATE`,
/// `$XDG_STATE_HOME/cudajail/sim-host.json`, `~/.local/state/cudajail/sim-host.json`).
fn sim_state_path() -> std::path::PathBuf {
    if let Some(p) = SIM_STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
    {
        return p;
    }
    if let Some(p) = std::env::var_os("CUDAJAIL_SIM_STATE").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("cudajail/sim-host.json")
}

/// `--sim-state` of the running command line.
static SIM_STATE: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// The largest simulated host state file read (it holds file trees of templates).
const SIM_STATE_LIMIT: u64 = 256 << 20;

/// The simulated host saved at `path`, or a ready FreeBSD 14 host with one GPU and no jail.
fn load_sim(path: &std::path::Path) -> Result<hostsim::SimHost, Failure> {
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(hostsim::SimHost::freebsd14_cuda_ready(1))
        }
        Err(e) => return Err(Failure::Usage(format!("{}: {e}", path.display()))),
    };
    let mut buf = Vec::new();
    f.take(SIM_STATE_LIMIT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let bad = |why: String| {
        Failure::Usage(format!(
            "the simulated host in {} cannot be read ({why}); delete the file to start from a \
             fresh simulated host",
            path.display()
        ))
    };
    if buf.len() as u64 > SIM_STATE_LIMIT {
        return Err(bad(format!("larger than {SIM_STATE_LIMIT} bytes")));
    }
    let state: hostsim::State = serde_json::from_slice(&buf).map_err(|e| bad(e.to_string()))?;
    let h = hostsim::SimHost::empty();
    h.with_state(|s| *s = state);
    Ok(h)
}

/// Writes the simulated host to `path` atomically (a new file next to it, renamed over it).
fn save_sim(h: &hostsim::SimHost, path: &std::path::Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::Failed(anyhow::anyhow!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let data = serde_json::to_vec(&h.snapshot()).map_err(|e| Failure::Failed(e.into()))?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// Simulates a host driver upgrade for `sync-driver --sim`: a newer kernel module and its Linux
/// libraries.
pub(crate) fn sim_upgrade_driver(h: &hostsim::SimHost) {
    let new = "580.105.08";
    h.set_nvidia_version(new);
    h.with_state(|s| {
        s.set_sysctl(
            "hw.nvidia.version",
            &format!("NVIDIA UNIX x86_64 Kernel Module  {new}  Release Build"),
        );
        for lib in ["libcuda.so", "libnvidia-ml.so"] {
            let _ = s.write_file(&format!("/compat/linux/usr/lib64/{lib}.{new}"), b"");
        }
    });
}

/// Runs `f` against the simulated host (`sim`) or this FreeBSD host.
pub(crate) fn with_env<T>(
    sim: bool,
    v: &spec::Valid,
    f: impl FnOnce(&engine::Env<'_>) -> anyhow::Result<T>,
) -> Result<T, Failure> {
    with_env_prep(sim, v, |_| {}, f)
}

/// As [`with_env`], with a preparation of the simulated host before `f` runs.
pub(crate) fn with_env_prep<T>(
    sim: bool,
    v: &spec::Valid,
    prep: impl FnOnce(&hostsim::SimHost),
    f: impl FnOnce(&engine::Env<'_>) -> anyhow::Result<T>,
) -> Result<T, Failure> {
    if sim {
        let path = sim_state_path();
        let h = load_sim(&path)?;
        eprintln!(
            "cudajail: on the simulated host (state: {})",
            path.display()
        );
        prep(&h);
        let r = f(&engine::sim_env(&h)).map_err(Failure::Failed);
        save_sim(&h, &path)?;
        return r;
    }
    let _ = (v, prep);
    #[cfg(target_os = "freebsd")]
    {
        let host = crate::native::Host::new(None);
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

fn doctor_cmd(json: bool, sim: bool) -> Result<String, Failure> {
    if sim {
        // The same simulated host `up --sim` works on.
        let path = sim_state_path();
        let h = load_sim(&path)?;
        eprintln!(
            "cudajail: on the simulated host (state: {})",
            path.display()
        );
        return report_doctor(&crate::doctor::doctor(&h, &h, &h, &h), json);
    }
    #[cfg(target_os = "freebsd")]
    {
        let (k, l) = (kld::KldHost, linuxulator::LinuxHost);
        report_doctor(
            &crate::doctor::doctor(&k, &l, &l, &linuxulator::readiness::StdFs),
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
    *SIM_STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = cli.sim_state.clone();
    match &cli.command {
        Command::Doctor { json, sim } => doctor_cmd(*json, *sim),
        Command::Up {
            spec,
            persist,
            recipe,
            sim,
            json,
        } => up::up(spec.as_deref(), *persist, recipe.as_deref(), *sim, *json),
        Command::Recipes => Ok(crate::recipe::BUILTIN
            .iter()
            .filter_map(|(n, _)| crate::recipe::Recipe::builtin(n).ok())
            .map(|r| {
                format!(
                    "{:<10} {}\n{:<10} packages: {}",
                    r.name,
                    r.description,
                    "",
                    r.packages.join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")),
        Command::Destroy { spec, force, sim } => lifecycle::destroy(spec.as_deref(), *force, *sim),
        Command::Start { spec, sim } => lifecycle::start(spec.as_deref(), *sim),
        Command::Stop { spec, sim } => lifecycle::stop(spec.as_deref(), *sim),
        Command::Status { spec, json, sim } => lifecycle::status(spec.as_deref(), *json, *sim),
        Command::List { spec, json, sim } => lifecycle::list(spec.as_deref(), *json, *sim),
        Command::Exec {
            name,
            user,
            command,
            sim,
        } => exec::exec(name, user.as_deref(), command, *sim),
        Command::Run {
            command,
            install_shim,
            uninstall_shim,
            sim,
        } => exec::run(command, *install_shim, *uninstall_shim, *sim),
        Command::SyncDriver { spec, sim } => exec::sync_driver(spec.as_deref(), *sim),
        Command::Template { cmd } => template::template(cmd),
        Command::Plan {
            spec,
            json,
            exact: true,
            sim,
        } => plan::plan_exact(spec.as_deref(), *json, *sim),
        Command::Plan { spec, json, .. } => plan::plan(spec.as_deref(), *json),
        Command::Export { spec, out, sim } => plan::export(spec.as_deref(), out.as_deref(), *sim),
        Command::Fmt { file, check, write } => plan::fmt(file, *check, *write),
        Command::Devfs {
            cmd:
                crate::cli::DevfsCmd::Check {
                    file,
                    alone,
                    passwd,
                    group,
                    json,
                },
        } => devfs::check(file, *alone, passwd, group, *json),
        Command::Conf {
            cmd: crate::cli::ConfCmd::Show { file, sep, json },
        } => plan::conf_show(file, sep, *json),
        Command::Console { name, user, sim } => exec::console(name, user.as_deref(), *sim),
        Command::Enable { name, sim } => lifecycle::autostart(name, true, *sim),
        Command::Disable { name, sim } => lifecycle::autostart(name, false, *sim),
        Command::RcScript => Ok(engine::autostart::RC_SCRIPT.trim_end().to_string()),
        Command::ShimSource => Ok(crate::shim::UVM_SHIM_C.trim_end().to_string()),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            Ok(completions::script(*shell, Cli::command()))
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// The spec format's page (mdoc), shipped with the tool.
pub const SPEC_MAN_PAGE: &str = include_str!("../../man/cudajail.toml.5");

/// `cudajail man [--dir DIR]`.
fn man(dir: Option<&std::path::Path>) -> Result<String, Failure> {
    use clap::CommandFactory;
    let render = |cmd: clap::Command| -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| Failure::Failed(e.into()))?;
        Ok(out)
    };
    let top = Cli::command();
    let Some(dir) = dir else {
        return Ok(String::from_utf8_lossy(&render(top)?)
            .trim_end()
            .to_string());
    };
    let fail = |e: std::io::Error| Failure::Failed(anyhow::anyhow!("{}: {e}", dir.display()));
    let (m1, m5) = (dir.join("man1"), dir.join("man5"));
    std::fs::create_dir_all(&m1).map_err(fail)?;
    std::fs::create_dir_all(&m5).map_err(fail)?;
    let mut written = vec![];
    std::fs::write(m1.join("cudajail.1"), render(top.clone())?).map_err(fail)?;
    written.push("man1/cudajail.1".to_string());
    for sub in top.get_subcommands() {
        let name = format!("cudajail-{}", sub.get_name());
        // clap names are `'static`; a page name lives for this one-shot command.
        let page = sub.clone().name(&*Box::leak(name.clone().into_boxed_str()));
        std::fs::write(m1.join(format!("{name}.1")), render(page)?).map_err(fail)?;
        written.push(format!("man1/{name}.1"));
    }
    std::fs::write(m5.join("cudajail.toml.5"), SPEC_MAN_PAGE).map_err(fail)?;
    written.push("man5/cudajail.toml.5".into());
    Ok(written.join("\n"))
}
