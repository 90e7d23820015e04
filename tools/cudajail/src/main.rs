//! The `cudajail` command. See the library for the work; this only maps results to exit codes.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cudajail::Cli::parse();
    match cudajail::run(&cli) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            if let cudajail::Failure::Report { out, .. } = &f {
                println!("{out}");
            }
            eprintln!("cudajail: {f}");
            if matches!(f, cudajail::Failure::Usage(_)) {
                eprintln!("hint: every spec field has a default; see `cudajail plan` with no file for a working example");
            }
            ExitCode::from(f.exit_code())
        }
    }
}
