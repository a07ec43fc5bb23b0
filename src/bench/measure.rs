//! Timing a child process: wall time, CPU time and peak RSS, read from /proc
//! while it runs (no unsafe code, no extra tools).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a child process used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ChildStats {
    /// Wall time.
    pub wall_s: f64,
    /// User + system CPU time (last sample before exit, every 10 ms).
    pub cpu_s: f64,
    /// Peak resident set size (VmHWM), MB.
    pub peak_rss_mb: f64,
    /// Exit code.
    pub code: Option<i32>,
}

/// Runs `program args...` in `dir` and measures it.
pub(crate) fn measure_command(program: &Path, args: &[&str], dir: &Path) -> std::io::Result<ChildStats> {
    let ticks = 100.0; // USER_HZ on Linux
    let start = Instant::now();
    let mut child =
        Command::new(program).args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id();
    let (mut cpu_s, mut peak_kb) = (0.0f64, 0.0f64);
    let status = loop {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // Fields after the command name: state is field 3, utime 14, stime 15.
            if let Some((_, rest)) = stat.rsplit_once(") ") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() > 12 {
                    let (u, s) = (f[11].parse::<f64>().unwrap_or(0.0), f[12].parse::<f64>().unwrap_or(0.0));
                    cpu_s = cpu_s.max((u + s) / ticks);
                }
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb = line.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(ChildStats { wall_s: start.elapsed().as_secs_f64(), cpu_s, peak_rss_mb: peak_kb / 1024.0, code: status.code() })
}
