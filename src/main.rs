//! The `okrflow` command: parse the command line, run, print the error chain (each cause
//! once; one JSON line with `--log-format json`), exit with a documented code.

use clap::Parser;

/// jemalloc rather than the system allocator: with glibc's, a run's peak memory was a fifth
/// higher, for the same time (BENCHMARKS.md, issue 19; mimalloc's was twice as high).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = match okrflow::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return okrflow::cli::usage_error(e),
    };
    okrflow::cli::init_logging(&cli);
    let json = cli.json_logs();
    match okrflow::cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            let outcome = okrflow::Outcome::CouldNotRun;
            okrflow::cli::report_fatal(&err, outcome, json);
            outcome.exit_code()
        }
    }
}
