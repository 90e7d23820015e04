//! The Linux ABI's state on this host: `linux_enable` as rc(8) reads it, the Linux root
//! (`compat.linux.emul_path`) and the tmpfs on its `/dev/shm`, each with the command that fixes
//! it (FreeBSD; `cargo run -p linuxulator-rs --example linux_status`).

#[cfg(target_os = "freebsd")]
fn main() {
    use linuxulator::readiness::{linux_checks, StdFs};
    use linuxulator::LinuxHost;
    let (checks, root) = linux_checks(&LinuxHost, &LinuxHost, &StdFs);
    println!("Linux root: {root}");
    for c in checks {
        println!("{:?} {:<24} {}", c.status, c.id, c.evidence);
        if let Some(f) = c.fix {
            println!("     fix: {f}");
        }
    }
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!(
        "linux_status checks FreeBSD's Linux ABI; this is {}",
        std::env::consts::OS
    );
    std::process::exit(2);
}
