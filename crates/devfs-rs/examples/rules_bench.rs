//! devfs.rules parse throughput and memory on generated files of 1x, 4x and 16x size
//! (rulesets of 40 rules each, as a host with many jails writes them): prints MB/s and the
//! process's peak resident memory against the input. Nothing is asserted.
//! `cargo run --release -p devfs-rs --example rules_bench [-- --json]`

use devfs::text::RulesFile;
use std::time::Instant;

fn generate(sets: usize) -> String {
    let mut s = String::new();
    for i in 0..sets {
        s.push_str(&format!("[jail_{i}={}]\nadd hide\n", 100 + i));
        for k in 0..38 {
            s.push_str(&format!(
                "add path 'nvidia{k}' unhide mode 0660 group video\n"
            ));
        }
        s.push_str("add path shm unhide\n\n");
    }
    s
}

fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    for sets in [250, 1000, 4000] {
        let text = generate(sets);
        let mb = text.len() as f64 / 1e6;
        let _ = RulesFile::parse(&text).unwrap();
        let mut t = Vec::new();
        for _ in 0..11 {
            let s = Instant::now();
            let f = RulesFile::parse(&text).unwrap();
            t.push(s.elapsed().as_secs_f64());
            assert_eq!(f.rulesets.len(), sets);
        }
        t.sort_by(f64::total_cmp);
        let rss = peak_rss().map_or(f64::NAN, |b| b as f64 / text.len() as f64);
        if json {
            println!("{{\"rulesets\":{sets},\"mb\":{mb:.3},\"parse_mb_s\":{:.2},\"peak_rss_ratio\":{rss:.2}}}", mb / t[5]);
        } else {
            println!(
                "{sets:>6} rulesets {mb:>6.1} MB {:>8.1} MB/s  peak RSS {rss:.1}x",
                mb / t[5]
            );
        }
    }
}
