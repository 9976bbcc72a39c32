//! What the command-line tests share: running the `accrete` binary as an operator does.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `accrete` with `args` in `dir` (its embedded SQLite database), without the caller's
/// configuration from the environment; the exit status, stdout and stderr.
pub fn run(dir: &Path, args: &[&str]) -> (Output, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_accrete"))
        .current_dir(dir)
        .env_remove("ACCRETE_DATABASE_URL")
        .env_remove("ACCRETE_CONFIG")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}
