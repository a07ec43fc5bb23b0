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
pub(super) struct JsonStdout {
    out: Box<dyn Write>,
}

impl JsonStdout {
    /// Takes standard output for the document; from here on, everything else
    /// written to it goes to standard error.
    /// Elsewhere than on Linux the commands' own care is all there is.
    pub(super) fn reserve() -> io::Result<Self> {
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
    pub(super) fn print<T: Serialize>(mut self, document: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(document).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()
    }
}

/// Reserves standard output when `json` is set.
pub(super) fn reserve_if(json: bool) -> io::Result<Option<JsonStdout>> {
    json.then(JsonStdout::reserve).transpose()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::JsonStdout;

    const CHILD: &str = "SWEEP_TEST_JSON_STDOUT_CHILD";

    /// Runs itself again as a child that reserves stdout, prints from this
    /// process and from a grandchild, then prints its document: only the
    /// document may reach the child's stdout.
    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn only_the_document_reaches_stdout() {
        if std::env::var_os(CHILD).is_some() {
            let out = JsonStdout::reserve().unwrap();
            println!("noise from this process");
            Command::new("sh").args(["-c", "echo noise from a child process"]).status().unwrap();
            out.print(&serde_json::json!({ "document": 1 })).unwrap();
            return;
        }
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "cli::json::tests::only_the_document_reaches_stdout", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
        assert!(child.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("{\n  \"document\": 1\n}\n"), "{stdout}");
        assert!(!stdout.contains("noise"), "{stdout}");
        assert!(
            stderr.contains("noise from this process") && stderr.contains("noise from a child process"),
            "{stderr}"
        );
    }
}
