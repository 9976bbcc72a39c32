//! What the commands print on stdout. Writing goes through here so that a reader that stops
//! early (`accrete policy export | head`) ends the command quietly instead of a panic, and so
//! that every output ends with a newline.

use std::fmt;
use std::io::Write as _;

/// Prints one line (a newline is added), like `println!`; a closed stdout is an error that
/// [`is_closed_stdout`] recognises.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Stdout was closed by its reader: not a failure of the command, which ends quietly.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout is closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `args` and a newline to stdout.
pub(crate) fn line(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(closed)
}

/// Writes a block of text to stdout, ending it with a newline if it has none.
pub(crate) fn text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let newline: &[u8] = if text.ends_with('\n') { b"" } else { b"\n" };
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(newline))
        .and_then(|()| out.flush())
        .map_err(closed)
}

fn closed(error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(error).context("cannot write to stdout")
    }
}
