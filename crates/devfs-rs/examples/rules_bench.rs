//! devfs.rules parse throughput and memory on generated files of 1x, 4x and 16x size
//! (rulesets of 40 rules, as a host with many jails writes them): MB/s and the heap peak
//! during the parse (the text included) against the input, for `RulesFile::parse` (every rule
//! kept as an owned `Rule`) and `Loader::load_each` (each rule handed out and dropped).
//! Nothing is asserted. `cargo run --release -p devfs-rs --example rules_bench [-- --json]`

use devfs::load::Loader;
use devfs::text::RulesFile;
use std::time::Instant;

#[global_allocator]
static A: benchkit::Counting = benchkit::Counting;

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

/// Parses once; returns the rulesets and rules seen, and the parsed file (dropped by the
/// caller, after its timing).
fn parse(text: &str, stream: bool) -> ((usize, usize), Option<RulesFile>) {
    if stream {
        let mut n = 0;
        let r = Loader::standalone()
            .without_commands()
            .load_each(text.as_bytes(), |_, _| n += 1);
        assert!(r.is_clean());
        ((r.sets.len(), n), None)
    } else {
        let f = RulesFile::parse(text).unwrap();
        let rules: usize = f.rulesets.iter().map(|r| r.rules.len()).sum();
        ((f.rulesets.len(), rules), Some(f))
    }
}

/// Seconds of one parse (not counted) and heap peak / input of another (counted).
fn run(text: &str, sets: usize, stream: bool) -> (f64, f64) {
    let t = Instant::now();
    let (n, kept) = parse(text, stream);
    let secs = t.elapsed().as_secs_f64();
    drop(kept);
    assert_eq!(n, (sets, sets * 40));
    let (_, peak) = benchkit::heap_peak(|| parse(text, stream));
    (secs, (peak + text.len()) as f64 / text.len() as f64)
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    if !json {
        println!(
            "{:>6} {:>9} {:>6} {:>11} {:>16}",
            "kind", "rulesets", "MB", "parse MB/s", "heap peak / in"
        );
    }
    for sets in [250, 1000, 4000] {
        let text = generate(sets);
        let mb = text.len() as f64 / 1e6;
        for (kind, stream) in [("each", true), ("file", false)] {
            let _ = run(&text, sets, stream);
            let mut t = Vec::new();
            let mut mem = 0.0;
            for _ in 0..11 {
                let (s, m) = run(&text, sets, stream);
                t.push(s);
                mem = m;
            }
            t.sort_by(f64::total_cmp);
            let speed = mb / t[5];
            if json {
                println!(
                    "{{\"kind\":\"{kind}\",\"rulesets\":{sets},\"mb\":{mb:.3},\"parse_mb_s\":{speed:.2},\"heap_peak_ratio\":{mem:.2}}}"
                );
            } else {
                println!("{kind:>6} {sets:>9} {mb:>6.1} {speed:>11.1} {mem:>15.2}x");
            }
        }
    }
}
