//! `kldstat -v` in a few lines: every loaded linker file with its id, references, path and the
//! modules it declares, through [`kld::KldOps`] (FreeBSD; `cargo run -p kld-rs --example kldstat`).

#[cfg(target_os = "freebsd")]
fn main() -> Result<(), kld::Error> {
    use kld::{KldHost, KldOps};
    println!("{:>3} {:>4}  {:<28} modules", "id", "refs", "file");
    for f in KldHost.list()? {
        println!(
            "{:>3} {:>4}  {:<28} {}",
            f.id.0,
            f.refs,
            f.name,
            f.modules.join(" ")
        );
    }
    Ok(())
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!(
        "kldstat lists a FreeBSD kernel's modules; this is {}",
        std::env::consts::OS
    );
    std::process::exit(2);
}
