//! `sweep client python`: prints the command protocol's Python client, for
//! those who vendor it instead of importing the copy sweep puts on `PYTHONPATH`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::CliError;

/// Arguments of `sweep client`.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The client's language.
    #[arg(value_enum)]
    pub language: Language,
}

/// The clients sweep ships.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Language {
    /// sweep_client.py: standard library only.
    Python,
}

/// Writes the client's source on stdout.
pub(super) fn client(args: ClientArgs) -> Result<ExitCode, CliError> {
    let source = match args.language {
        Language::Python => crate::objective::command::client::PYTHON,
    };
    std::io::stdout().lock().write_all(source.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
