//! A devfs ruleset of this host as devfs.rules(5) text, read back from the kernel through
//! [`devfs::DevfsOps`] (FreeBSD, root: `cargo run -p devfs-rs --example devfs_show -- 4`).

#[cfg(target_os = "freebsd")]
fn main() {
    use devfs::{DevfsHost, DevfsOps, Ruleset, RulesetId};
    let n: u16 = match std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        Some(n) => n,
        None => {
            eprintln!("usage: devfs_show RULESET_NUMBER");
            std::process::exit(2);
        }
    };
    match DevfsHost.rules(std::path::Path::new("/dev"), RulesetId(n)) {
        Ok(rules) => {
            let rs = Ruleset {
                id: RulesetId(n),
                name: format!("ruleset_{n}"),
                rules,
            };
            print!("{}", rs.to_rules_file());
        }
        Err(e) => {
            eprintln!("devfs_show: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!(
        "devfs_show reads a FreeBSD kernel's rulesets; this is {}",
        std::env::consts::OS
    );
    std::process::exit(2);
}
