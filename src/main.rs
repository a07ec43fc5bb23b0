//! The `sweep` command: the library's CLI with the built-in objectives.

use std::process::ExitCode;

fn main() -> ExitCode {
    sweep::cli::main_with(sweep::objective::builtin())
}
