//! The `okrflow` command: parse the command line, run, print the error chain, exit with a
//! documented code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = okrflow::cli::Cli::parse();
    okrflow::cli::init_logging(&cli);
    match okrflow::cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            okrflow::Outcome::CouldNotRun.exit_code()
        }
    }
}
