//! The readers of `accrete users import FILE --format auth0|keycloak|csv|jsonl [--mapping FILE]`:
//! each turns a file into [`ImportRecord`]s, one user at a time, and the lines it cannot read
//! into [`ImportProblem`]s. Pure: no database, no policy, no clock; the use-case checks and
//! stores what they give.
//!
//! - `auth0`: Auth0's user export (NDJSON), or a file prepared for its bulk import (a JSON
//!   list), password hashes included where Accrete can verify them (`auth0.rs`).
//! - `keycloak`: a realm export of `kc.sh export`, streamed (`keycloak.rs`).
//! - `csv`: a CSV file with a header naming targets, or a mapping (`csv.rs`).
//! - `jsonl`: Accrete's own export, one user per line (`jsonl.rs`).
//!
//! A mapping ([`Mapping`]) says where each source goes: for CSV, a column; for JSONL, a JSON
//! pointer, and only mapped values are read; for Auth0 and Keycloak, JSON pointers into each
//! user's object whose values are set after the format's own reading (to send a metadata key or
//! an attribute to a field of the policy, say).
//!
//! Memory stays bounded by one user whatever the file's size: lines are read one by one (at
//! most 1 MiB each), JSON documents are streamed element by element.

mod auth0;
mod csv;
mod hashes;
mod json;
mod jsonl;
mod keycloak;
mod mapping;

use std::io::{BufReader, Read};
use std::ops::ControlFlow;

pub use mapping::Mapping;

use crate::import::{ImportProblem, ImportRecord};

/// The formats of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Auth0,
    Keycloak,
    Csv,
    Jsonl,
}

impl Format {
    /// Every format, in the order of the command's help.
    pub const ALL: [Format; 4] = [Format::Auth0, Format::Keycloak, Format::Csv, Format::Jsonl];

    /// Reads a format's name as the command line gives it (`auth0`, `keycloak`, `csv`, `jsonl`).
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auth0 => "auth0",
            Format::Keycloak => "keycloak",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// Why a file cannot be read at all (a line that cannot be read is an [`ImportProblem`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the import file cannot be read: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not of the format at all (e.g. CSV without a header with `email`, Keycloak
    /// JSON without `users`), or a JSON document breaks off where nothing after can be read.
    #[error("line {line}: {message}")]
    NotFormat { line: u64, message: String },
}

/// What a reader hands each record or problem to.
type Each<'a> = dyn FnMut(Result<ImportRecord, ImportProblem>) -> ControlFlow<()> + 'a;

/// Reads `input` user by user, calling `each` with a record or with the problem of a line that
/// cannot be read (bad JSON on one line, no email...). Stops early when `each` returns
/// `ControlFlow::Break`. Memory stays bounded by one user, whatever the file's size.
///
/// Users handed to `each` before an `Err` (a Keycloak document broken halfway) stay handed.
pub fn read(
    format: Format,
    input: impl Read,
    mapping: Option<&Mapping>,
    each: &mut dyn FnMut(Result<ImportRecord, ImportProblem>) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let input = BufReader::new(input);
    let each = &mut |result: Result<ImportRecord, ImportProblem>| each(result.map(hashes::vetted));
    match format {
        Format::Auth0 => auth0::read(input, mapping, each),
        Format::Keycloak => keycloak::read(input, mapping, each),
        Format::Csv => csv::read(input, mapping, each),
        Format::Jsonl => jsonl::read(input, mapping, each),
    }
}

#[cfg(test)]
mod tests;
