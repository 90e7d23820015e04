//! `jls` in a few lines: the jails of this host with their id, name, root and whether they are
//! dying, through [`jail::JailOps`] (FreeBSD; `cargo run -p jail-rs --example jls`).

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), jail::Error> {
    use jail::{JailHost, JailOps};
    println!("{:>5}  {:<20} {:<8} path", "jid", "name", "state");
    for j in JailHost.list()? {
        let state = if j.dying { "dying" } else { "alive" };
        println!("{:>5}  {:<20} {:<8} {}", j.jid.0, j.name, state, j.path);
    }
    Ok(())
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!(
        "jls lists a FreeBSD host's jails; this is {}",
        std::env::consts::OS
    );
    std::process::exit(2);
}
