//! `zfs clone` with properties, through [`zfs::ZfsOps`] and the zfs(8) backend:
//! `cargo run -p zfs-ops --example zfs_clone -- POOL/tmpl@base POOL/new [prop=value …]`
//! (as root, where zfs(8) is).

use zfs::cli::ZfsCli;
use zfs::{DatasetName, PropName, SnapshotName, ZfsOps};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [snap, target, props @ ..] = args.as_slice() else {
        eprintln!("usage: zfs_clone POOL/FS@SNAP POOL/NEW [name=value …]");
        std::process::exit(2);
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let snap = SnapshotName::new(snap)?;
        let target = DatasetName::new(target)?;
        let mut p = Vec::new();
        for kv in props {
            let (k, v) = kv.split_once('=').ok_or("a property is name=value")?;
            p.push((PropName::new(k)?, v.to_string()));
        }
        ZfsCli.clone_snapshot(&target, &snap, &p)?;
        println!("cloned {snap} into {target}");
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("zfs_clone: {e}");
        std::process::exit(1);
    }
}
