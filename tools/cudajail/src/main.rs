//! The `cudajail` command. See the library for the work; this only maps results to exit codes.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Prints to standard output (nothing for an empty output). A reader that went away (`cudajail plan --json | head -1`) is
/// not an error of ours: the output simply stops, as with any Unix filter.
fn print(out: &str) -> bool {
    let mut o = std::io::stdout().lock();
    // A command's own output (`exec`) is printed as it is; a report gets its final newline.
    let nl = if out.is_empty() || out.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    match write!(o, "{out}{nl}").and_then(|()| o.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            eprintln!("cudajail: writing the output: {e}");
            false
        }
    }
}

fn main() -> ExitCode {
    let cli = cudajail::Cli::parse();
    match cudajail::run(&cli) {
        Ok(out) => {
            print(&out);
            ExitCode::SUCCESS
        }
        Err(f) => {
            if let cudajail::Failure::Report { out, .. } = &f {
                print(out);
            } else if cli.wants_json() {
                // Machine-readable errors for machine-readable commands (docs/json.md).
                let v = serde_json::json!({ "ok": false, "error": f.to_string() });
                print(&serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            eprintln!("cudajail: {f}");
            if matches!(&f, cudajail::Failure::Usage(m) if m.contains("spec")) {
                eprintln!("hint: every spec field has a default; see `cudajail plan` with no file for a working example");
            }
            ExitCode::from(f.exit_code())
        }
    }
}
