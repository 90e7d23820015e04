//! jail.conf parse and resolve throughput and memory, on generated files of 10,000, 40,000
//! and 160,000 jails (one line each, like a hosting provider's file) — 1x, 4x and 16x: prints
//! MB/s and the peak heap in use during parse+resolve (the text included) against the input
//! size, for [`FlatConf`] (parse in place, resolve one jail at a time) and the owned tree
//! ([`JailConf`], which holds everything). Nothing is asserted.
//! `cargo run --release -p jail-rs --example conf_bench [-- --json]`

use jail::conf::{FlatConf, JailConf};
use std::time::Instant;

#[global_allocator]
static A: benchkit::Counting = benchkit::Counting;

fn generate(n: usize) -> String {
    let mut s = String::from("exec.clean;\nmount.devfs;\npath = \"/jails/$name\";\n");
    for i in 0..n {
        s.push_str(&format!(
            "j{i} {{ host.hostname = \"j{i}.example.org\"; ip4.addr = 10.{}.{}.{}; persist; allow.raw_sockets; }}\n",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ));
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds of parse, of parse+resolve, and the heap peak (text included) / text size.
fn run(text: &str, n: usize, flat: bool) -> (f64, f64, f64) {
    let t = Instant::now();
    let (parsed, jails) = {
        if flat {
            let c = FlatConf::parse(text, "bench.conf").unwrap();
            let parsed = t.elapsed().as_secs_f64();
            let mut jails = 0;
            c.resolve_each(|r| {
                jails += usize::from(r.params.len() == 8);
                Ok(())
            })
            .unwrap();
            (parsed, jails)
        } else {
            let c = JailConf::parse(text, "bench.conf").unwrap();
            let parsed = t.elapsed().as_secs_f64();
            let r = c.resolve_all().unwrap();
            (parsed, r.iter().filter(|r| r.params.len() == 8).count())
        }
    };
    let both = t.elapsed().as_secs_f64();
    assert_eq!(jails, n);
    // The same work again, its heap counted (counting costs time: not in the timings).
    let (_, peak) = benchkit::heap_peak(|| {
        if flat {
            let c = FlatConf::parse(text, "bench.conf").unwrap();
            c.resolve_each(|_| Ok(())).unwrap();
        } else {
            let c = JailConf::parse(text, "bench.conf").unwrap();
            drop(c.resolve_all().unwrap());
        }
    });
    let peak = peak + text.len();
    (parsed, both, peak as f64 / text.len() as f64)
}

fn main() {
    // `--json`: one JSON object per size and kind on its own line, for `cargo xtask bench`.
    let json = std::env::args().any(|a| a == "--json");
    if !json {
        println!(
            "{:>6} {:>8} {:>6} {:>11} {:>15} {:>16}",
            "kind", "jails", "MB", "parse MB/s", "parse+resolve", "heap peak / in"
        );
    }
    for n in [10_000, 40_000, 160_000] {
        let text = generate(n);
        let mb = text.len() as f64 / 1e6;
        for (kind, flat) in [("flat", true), ("tree", false)] {
            // Warm-up, then the median of 5.
            let _ = run(&text, n, flat);
            let (mut parse, mut both, mut mem) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..5 {
                let (p, b, m) = run(&text, n, flat);
                parse.push(p);
                both.push(b);
                mem.push(m);
            }
            let (p, b, m) = (mb / median(parse), mb / median(both), median(mem));
            if json {
                println!(
                    "{{\"kind\":\"{kind}\",\"jails\":{n},\"mb\":{mb:.3},\"parse_mb_s\":{p:.2},\"parse_resolve_mb_s\":{b:.2},\"heap_peak_ratio\":{m:.2}}}"
                );
            } else {
                println!("{kind:>6} {n:>8} {mb:>6.1} {p:>11.1} {b:>10.1} MB/s {m:>15.2}x");
            }
        }
    }
}
