//! Benchmark: clone a template snapshot vs copy the same tree. Run inside the ZFS test VM by
//! `cargo xtask ci` (or by hand as root: `ZFS_TEST_POOL=<pool> cargo run -p zfs-ops --example clone_bench`).
//! Prints the two times and the ratio.

fn main() {
    #[cfg(has_libzfs)]
    bench::run();
    #[cfg(not(has_libzfs))]
    eprintln!("clone_bench needs the libzfs backend (OpenZFS headers at build time)");
}

#[cfg(has_libzfs)]
mod bench {
    use std::time::Instant;
    use zfs::{DatasetName, LibZfs, PropName, SnapshotName, ZfsOps};

    fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<u64> {
        let mut n = 0;
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            let t = to.join(e.file_name());
            if e.file_type()?.is_dir() {
                n += copy_tree(&e.path(), &t)?;
            } else {
                n += std::fs::copy(e.path(), &t)?;
            }
        }
        Ok(n)
    }

    pub fn run() {
        let pool = std::env::var("ZFS_TEST_POOL").expect("ZFS_TEST_POOL");
        let mb: usize = std::env::var("BENCH_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        let z = LibZfs::new().expect("libzfs");
        let ds = |s: &str| DatasetName::new(s).unwrap();
        let t = ds(&format!("{pool}/bench-template"));
        z.create(&t, &[]).unwrap();
        let mp = z
            .get_prop(&t, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        // A synthetic rootfs-like tree: many small files in directories, `mb` MiB in all.
        let chunk = vec![0x5au8; 64 * 1024];
        let files = mb * 16;
        for i in 0..files {
            let d = format!("{mp}/usr/lib/d{}", i % 64);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(format!("{d}/f{i}"), &chunk).unwrap();
        }
        let snap = SnapshotName::new(&format!("{t}@base")).unwrap();
        z.snapshot(std::slice::from_ref(&snap)).unwrap();
        let c = ds(&format!("{pool}/bench-clone"));
        let t0 = Instant::now();
        z.clone_snapshot(&c, &snap, &[]).unwrap();
        let clone = t0.elapsed();
        let cp = ds(&format!("{pool}/bench-copy"));
        z.create(&cp, &[]).unwrap();
        let cmp = z
            .get_prop(&cp, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        let t0 = Instant::now();
        let bytes = copy_tree(std::path::Path::new(&mp), std::path::Path::new(&cmp)).unwrap();
        let copy = t0.elapsed();
        println!("tree: {files} files, {} MiB", bytes >> 20);
        println!("clone from template: {clone:?}");
        println!("copy of the tree:    {copy:?}");
        println!(
            "ratio: clone is {:.0}x faster",
            copy.as_secs_f64() / clone.as_secs_f64().max(1e-9)
        );
        // Jail creation as `up` does it (a clone of the template snapshot with cudajail's
        // properties, the spec record among them), for 100 jails: does it grow with the count?
        let parent = ds(&format!("{pool}/bench-jails"));
        z.create(&parent, &[]).unwrap();
        let spec = "{\"version\":1,\"spec\":".to_string() + &"x".repeat(1200) + "}";
        let props = [
            (PropName::cudajail("managed").unwrap(), "on".to_string()),
            (PropName::cudajail("ruleset").unwrap(), "100".to_string()),
            (PropName::cudajail("spec").unwrap(), spec),
        ];
        let mut times = Vec::new();
        for i in 1..=100 {
            let j = ds(&format!("{parent}/j{i}"));
            let t0 = Instant::now();
            z.clone_snapshot(&j, &snap, &props).unwrap();
            times.push(t0.elapsed());
        }
        let t0 = Instant::now();
        for i in 1..=100 {
            z.destroy(&zfs::ZfsName::parse(&format!("{parent}/j{i}")).unwrap())
                .unwrap();
        }
        let destroy = t0.elapsed();
        println!(
            "jails: 1st {:?}, 10th {:?}, 100th {:?} per clone with cudajail's properties; destroying the 100: {:?} ({:?} each)",
            times[0],
            times[9],
            times[99],
            destroy,
            destroy / 100
        );
        z.destroy(&zfs::ZfsName::from(&parent)).unwrap();
        for d in [c.as_str(), cp.as_str()] {
            z.destroy(&zfs::ZfsName::parse(d).unwrap()).unwrap();
        }
        z.destroy(&zfs::ZfsName::from(&snap)).unwrap();
        z.destroy(&zfs::ZfsName::from(&t)).unwrap();
    }
}
