//! The `sweep` command: parses arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sweep::cli::Cli::parse();
    sweep::cli::dispatch(cli)
}
