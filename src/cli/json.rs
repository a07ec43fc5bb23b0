//! `--json`: standard output carries one JSON document and nothing else.
//!
//! The commands print their human text only without `--json`, but a user's
//! objective trains inside this process and may print what it likes. So
//! [`JsonStdout::reserve`] keeps the real standard output for the document
//! and points file descriptor 1 at standard error: whatever else is printed,
//! by anyone, reaches the terminal and never the pipe a script reads.

use std::io::{self, Write};

use serde::Serialize;

/// The process's real standard output, kept for the one document.
pub struct JsonStdout {
    out: Box<dyn Write>,
}

impl JsonStdout {
    /// Takes standard output for the document; from here on, everything else
    /// written to it goes to standard error.
    /// Elsewhere than on Linux the commands' own care is all there is.
    pub fn reserve() -> io::Result<Self> {
        io::stdout().lock().flush()?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::fd::AsFd;
            // Close-on-exec: worker processes and sbatch must not hold the reader's pipe open.
            let real = rustix::io::fcntl_dupfd_cloexec(io::stdout().as_fd(), 3)?;
            rustix::stdio::dup2_stdout(io::stderr().as_fd())?;
            Ok(JsonStdout { out: Box::new(std::fs::File::from(real)) })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Ok(JsonStdout { out: Box::new(io::stdout()) })
    }

    /// Prints `document` (pretty, as every `--json` of sweep, with a final newline).
    pub fn print<T: Serialize>(mut self, document: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(document).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()
    }
}

/// Reserves standard output when `json` is set.
pub fn reserve_if(json: bool) -> io::Result<Option<JsonStdout>> {
    json.then(JsonStdout::reserve).transpose()
}
