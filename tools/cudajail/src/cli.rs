//! The command line: clap's types, nothing else (the commands are in `commands/`).

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
    /// With `--sim`: the simulated host's state file, read before and written after every
    /// command (default: $CUDAJAIL_SIM_STATE, else $XDG_STATE_HOME/cudajail/sim-host.json, else
    /// ~/.local/state/cudajail/sim-host.json). A missing file is a ready FreeBSD 14 host with
    /// one GPU and no jail.
    #[arg(long, global = true, value_name = "FILE")]
    pub sim_state: Option<PathBuf>,
}

impl Cli {
    /// Whether the command line asked for JSON (`--json`): a failure is then reported as JSON
    /// too (`{"ok": false, "error": …}`, docs/json.md).
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Command::Plan { json, .. }
            | Command::Up { json, .. }
            | Command::Status { json, .. }
            | Command::List { json, .. }
            | Command::Doctor { json, .. } => *json,
            Command::Conf {
                cmd: ConfCmd::Show { json, .. },
            } => *json,
            Command::Devfs {
                cmd: DevfsCmd::Check { json, .. },
            } => *json,
            Command::Template {
                cmd: TemplateCmd::List { json, .. },
            } => *json,
            _ => false,
        }
    }
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
        /// With `gpus = "all"`: ask the simulated host's driver which GPUs there are.
        #[arg(long)]
        sim: bool,
    },
    /// Reformat a jail.conf(5) file in the canonical style (comments kept); `--check` only says
    /// whether it is already formatted (exit 1 if not).
    Fmt {
        /// The jail.conf file.
        file: PathBuf,
        /// Do not print; exit 1 when the file is not formatted.
        #[arg(long)]
        check: bool,
        /// Rewrite the file in place (atomically), only if the formatted text resolves to the
        /// same jails and parameters as the original.
        #[arg(short = 'w', long, conflicts_with = "check")]
        write: bool,
    },
    /// Start a jail at boot: install the rc.d script if missing, set `cudajail_enable="YES"`
    /// and append the jail to `cudajail_list` in rc.conf (jails start in that order).
    Enable {
        /// The jail's name.
        name: String,
        /// Run against the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Stop starting a jail at boot (`cudajail_enable="NO"` once the list is empty).
    Disable {
        /// The jail's name.
        name: String,
        /// Run against the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Print the rc.d script `enable` installs (`/usr/local/etc/rc.d/cudajail`).
    RcScript,
    /// Read devfs.rules(5) files as FreeBSD loads them at boot.
    Devfs {
        /// What to do.
        #[command(subcommand)]
        cmd: DevfsCmd,
    },
    /// Read jail.conf(5) files as jail(8) does.
    Conf {
        /// What to do.
        #[command(subcommand)]
        cmd: ConfCmd,
    },
    /// Create the CUDA jail (every step not done yet; undone on failure).
    Up {
        /// Spec file (TOML); the built-in default without one.
        spec: Option<PathBuf>,
        /// Also make the host setup survive a reboot (rc.conf: linux_enable, kld_list), like
        /// `persist_config = true` in the spec.
        #[arg(long)]
        persist: bool,
        /// Then apply this recipe (pytorch, llama-cpp, comfyui), like `recipe = "…"` in the spec.
        #[arg(long)]
        recipe: Option<String>,
        /// Run against a simulated FreeBSD host with one GPU (any OS; nothing real changes).
        #[arg(long)]
        sim: bool,
        /// Machine-readable report.
        #[arg(long)]
        json: bool,
    },
    /// Remove exactly what `up` made: jail, mounts, devfs ruleset, dataset (never host data).
    Destroy {
        /// A jail cudajail made (its name), or a spec file (TOML); the built-in default spec
        /// without one.
        spec: Option<PathBuf>,
        /// Also destroy a dataset cudajail did not create.
        #[arg(long)]
        force: bool,
        /// Run against the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Start a stopped jail again (the same idempotent steps as `up`).
    Start {
        /// A jail cudajail made (its name), or a spec file (TOML); the built-in default spec
        /// without one.
        spec: Option<PathBuf>,
        /// Run against a simulated host.
        #[arg(long)]
        sim: bool,
    },
    /// Stop the jail: remove it and unmount its file systems; the dataset and files stay.
    Stop {
        /// A jail cudajail made (its name), or a spec file (TOML); the built-in default spec
        /// without one.
        spec: Option<PathBuf>,
        /// Run against the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Show the jail: running or not, mounts, ruleset, journal.
    Status {
        /// A jail cudajail made (its name), or a spec file (TOML); the built-in default spec
        /// without one.
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Show it on the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Run a command inside the jail (FreeBSD; `--sim` understands only `cc`, `/sbin/ldconfig`, NVIDIA's installer and the CUDA check).
    Exec {
        /// The jail's name.
        name: String,
        /// Run it as this user of the jail (a mirrored host user, or one the jail has), with
        /// runuser(1) inside the jail.
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
        /// Run on the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// A login shell inside a running jail (root's, or USER's through runuser(1)), on this
    /// terminal.
    Console {
        /// The jail's name.
        name: String,
        /// Log in as this user of the jail.
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// Check it on the simulated host (`--sim-state`); no shell is opened.
        #[arg(long)]
        sim: bool,
    },
    /// After a host NVIDIA driver upgrade: put the same version's Linux libraries into the jail.
    SyncDriver {
        /// A jail cudajail made (its name), or a spec file (TOML); the built-in default spec
        /// without one.
        spec: Option<PathBuf>,
        /// Run on the simulated host (`--sim-state`), after simulating a driver upgrade there.
        #[arg(long)]
        sim: bool,
    },
    /// Run a Linux CUDA program directly under the Linuxulator (no jail): prepares the host
    /// (modules, /dev/shm, a check that the uvm shim is built) and runs the program with the
    /// shim preloaded into it alone; nothing host-wide changes unless `--install-shim`.
    Run {
        /// The program and its arguments (the uvm shim is preloaded into it alone).
        #[arg(last = true, required_unless_present_any = ["install_shim", "uninstall_shim"])]
        command: Vec<String>,
        /// Instead: preload the uvm shim into every Linux program on this host
        /// (`<emul_path>/etc/ld.so.preload`), an explicit host-wide change.
        #[arg(long, conflicts_with_all = ["uninstall_shim", "command"])]
        install_shim: bool,
        /// Instead: take the uvm shim out of `<emul_path>/etc/ld.so.preload`.
        #[arg(long, conflicts_with = "command")]
        uninstall_shim: bool,
        /// Prepare a simulated host instead (the program is not run).
        #[arg(long)]
        sim: bool,
    },
    /// List the recipes `up --recipe` applies, with what each installs.
    Recipes,
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
        /// bash, zsh, fish, elvish, powershell or tcsh.
        shell: crate::commands::completions::CompletionShell,
    },
    /// Print the manual page (roff; `cudajail man | man -l -`), or with `--dir` write every
    /// page: cudajail(1), one cudajail-COMMAND(1) per command and cudajail.toml(5).
    Man {
        /// Write the pages into this directory (man1/ and man5/ below it).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the cudajail jails on this host.
    List {
        /// Spec file naming the pool (the built-in default without one).
        spec: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// List on the simulated host (`--sim-state`).
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

/// Subcommands of `cudajail conf`.
#[derive(Debug, Subcommand)]
pub enum ConfCmd {
    /// Every jail of the file with its resolved parameters, one jail per line, as `jail -e
    /// SEP` prints them on FreeBSD (globals, wildcards, variables applied; includes read;
    /// values quoted as jail(8) quotes them; `jid` not shown).
    Show {
        /// The jail.conf file.
        file: PathBuf,
        /// The separator between parameters (jail -e's argument).
        #[arg(long, default_value = " ")]
        sep: String,
        /// JSON: a list of `{name, params: [[name, [values] or null]]}`.
        #[arg(long)]
        json: bool,
    },
}

/// Subcommands of `cudajail devfs`.
#[derive(Debug, Subcommand)]
pub enum DevfsCmd {
    /// Load a devfs.rules file the way rc.subr and devfs(8) do at boot (after FreeBSD's
    /// stock rulesets, user and group names from this host) and report every line that would
    /// fail at boot, where loading would stop, and what cudajail refuses; exit 1 if any.
    Check {
        /// The devfs.rules file (`/etc/devfs.rules`).
        file: PathBuf,
        /// Read it alone, not after the stock rulesets of /etc/defaults/devfs.rules (automatic
        /// when FILE is that file).
        #[arg(long)]
        alone: bool,
        /// passwd(5) file for `user` names (default /etc/passwd).
        #[arg(long, default_value = "/etc/passwd")]
        passwd: PathBuf,
        /// group(5) file for `group` names (default /etc/group).
        #[arg(long, default_value = "/etc/group")]
        group: PathBuf,
        /// JSON: {file, rulesets, problems, stops_at}.
        #[arg(long)]
        json: bool,
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
        /// List on the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
    /// Remove a template no jail is cloned from.
    Rm {
        /// The suite: noble, jammy, bookworm, trixie.
        suite: String,
        /// Spec file naming the pool.
        spec: Option<PathBuf>,
        /// Run on the simulated host (`--sim-state`).
        #[arg(long)]
        sim: bool,
    },
}
