//! The engine's seams on a real FreeBSD host.

use crate::engine::{Env, JailExec};
use crate::rootfs::Debootstrap;
use anyhow::{anyhow, Context};
use jail::{JailCommandExt, Jid};
use rootfs::Beneath;
use std::process::Command;

/// Commands in jails through `jail_attach(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeExec;

impl JailExec for NativeExec {
    fn exec(&self, jid: Jid, argv: &[&str]) -> anyhow::Result<(i32, String)> {
        let (prog, args) = argv.split_first().ok_or_else(|| anyhow!("empty command"))?;
        // A clean environment, a time limit and bounded output (crate::process).
        crate::process::run_bounded(
            Command::new(prog).args(args).jail(jid),
            crate::process::TIMEOUT,
            crate::process::OUTPUT_CAP,
        )
        .with_context(|| format!("{argv:?} in jail {jid}"))
    }
}

/// The host's seams; the values live as long as the returned `Env` borrows them.
pub struct Host {
    jail: jail::JailHost,
    devfs: devfs::DevfsHost,
    kld: kld::KldHost,
    linux: linuxulator::LinuxHost,
    zfs: zfs::cli::ZfsCli,
    nv: nvgpu::NativeTransport,
    view: linuxulator::readiness::StdFs,
    fs: Beneath,
    boot: Debootstrap,
    exec: NativeExec,
}

impl Host {
    /// Everything on the real host.
    pub fn new(mirror: Option<String>) -> Host {
        Host {
            jail: jail::JailHost,
            devfs: devfs::DevfsHost,
            kld: kld::KldHost,
            linux: linuxulator::LinuxHost,
            zfs: zfs::cli::ZfsCli,
            nv: nvgpu::NativeTransport::new(),
            view: linuxulator::readiness::StdFs,
            fs: Beneath,
            boot: Debootstrap {
                mirror,
                progress: {
                    use std::io::IsTerminal;
                    std::io::stderr()
                        .is_terminal()
                        .then_some(crate::rootfs::show_on_terminal as fn(&str))
                },
            },
            exec: NativeExec,
        }
    }

    /// The engine's view of it.
    pub fn env(&self) -> Env<'_> {
        Env {
            jail: &self.jail,
            devfs: &self.devfs,
            kld: &self.kld,
            sysctl: &self.linux,
            mount: &self.linux,
            zfs: &self.zfs,
            nv: &self.nv,
            view: &self.view,
            fs: &self.fs,
            boot: &self.boot,
            exec: &self.exec,
        }
    }
}
