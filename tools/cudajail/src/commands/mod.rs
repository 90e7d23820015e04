//! One function per command (ripgrep's layout), and what they share: the spec loader, the
//! choice of host (`--sim` or this FreeBSD host) and the failure type the binary maps to exit
//! codes. `run` dispatches the parsed command line.

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

/// On the simulated host, runs `up` first so that there is a jail to act on; returns the plan.
pub(crate) fn sim_up_first(
    env: &engine::Env<'_>,
    v: &spec::Valid,
    sim: bool,
) -> anyhow::Result<crate::plan::Plan> {
    let p = engine::plan(env, v)?;
    if sim {
        engine::up(env, v, &p)?;
    }
    Ok(p)
}

/// Simulates a host driver upgrade for `sync-driver --sim`: a newer kernel module and its Linux
/// libraries.
pub(crate) fn sim_upgrade_driver(h: &hostsim::SimHost) {
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
        let h = hostsim::SimHost::freebsd14_cuda_ready(1);
        prep(&h);
        return f(&engine::sim_env(&h)).map_err(Failure::Failed);
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
        let h = hostsim::SimHost::freebsd14_with_gpus(1);
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
    match &cli.command {
        Command::Doctor { json, sim } => doctor_cmd(*json, *sim),
        Command::Up {
            spec,
            persist,
            sim,
            json,
        } => up::up(spec.as_deref(), *persist, *sim, *json),
        Command::Destroy { spec, force, sim } => lifecycle::destroy(spec.as_deref(), *force, *sim),
        Command::Start { spec, sim } => lifecycle::start(spec.as_deref(), *sim),
        Command::Stop { spec, sim } => lifecycle::stop(spec.as_deref(), *sim),
        Command::Status { spec, json, sim } => lifecycle::status(spec.as_deref(), *json, *sim),
        Command::List { spec, json, sim } => lifecycle::list(spec.as_deref(), *json, *sim),
        Command::Exec { name, command, sim } => exec::exec(name, command, *sim),
        Command::Run { command, sim } => exec::run(command, *sim),
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
        Command::ShimSource => Ok(crate::shim::UVM_SHIM_C.trim_end().to_string()),
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
    }
}
