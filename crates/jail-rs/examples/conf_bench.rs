//! jail.conf parse and resolve throughput and memory, on generated files of 10,000, 40,000
//! and 160,000 jails (one line each, like a hosting provider's file): prints MB/s and the
//! process's peak resident memory against the input size. Nothing is asserted.
//! `cargo run --release -p jail-rs --example conf_bench`

use jail::conf::JailConf;
use std::time::Instant;

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

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `--json`: one JSON object per size on its own line, for `cargo xtask bench`.
    let json = std::env::args().any(|a| a == "--json");
    if !json {
        println!(
            "{:>8} {:>9} {:>12} {:>16} {:>14}",
            "jails", "MB", "parse MB/s", "parse+resolve", "peak RSS / in"
        );
    }
    for n in [10_000, 40_000, 160_000] {
        let text = generate(n);
        let mb = text.len() as f64 / 1e6;
        // Warm-up, then the median of 5.
        let _ = JailConf::parse(&text, "bench.conf").unwrap();
        let mut parse = Vec::new();
        let mut both = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let c = JailConf::parse(&text, "bench.conf").unwrap();
            parse.push(t.elapsed().as_secs_f64());
            let r = c.resolve_all().unwrap();
            both.push(t.elapsed().as_secs_f64());
            assert_eq!(r.len(), n);
        }
        if json {
            println!(
                "{{\"jails\":{n},\"mb\":{mb:.3},\"parse_mb_s\":{:.2},\"parse_resolve_mb_s\":{:.2},\"peak_rss_ratio\":{}}}",
                mb / median(parse.clone()),
                mb / median(both.clone()),
                peak_rss().map_or("null".to_string(), |b| format!("{:.2}", b as f64 / text.len() as f64))
            );
            continue;
        }
        let rss = peak_rss().map_or("?".to_string(), |b| {
            format!("{:.1}x", b as f64 / text.len() as f64)
        });
        println!(
            "{n:>8} {mb:>9.1} {:>12.1} {:>11.1} MB/s {rss:>14}",
            mb / median(parse),
            mb / median(both)
        );
    }
}
