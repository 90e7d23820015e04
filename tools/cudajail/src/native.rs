//! The engine's seams on a real FreeBSD host.

use crate::engine::Env;
use crate::rootfs::Debootstrap;
use rootfs::Beneath;

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
            exec: &self.jail,
        }
    }
}
