//! CSV files (RFC 4180: a header line, quoted fields, `""` for a quote, CRLF or LF; a UTF-8
//! byte order mark is skipped). Without a mapping each header names its column's target
//! (`email`, `profile.given_name`, `company`...); with one, each mapped column goes to its
//! target and the other columns are left out (said in the first record's notes). A header
//! without the `email` target makes the file not CSV of users at all.
//!
//! Cells: an empty (or blank) cell is an absent value; `email_verified` and `disabled` read
//! true/false, 1/0, yes/no; `created_at` reads RFC 3339 or a date `YYYY-MM-DD` (midnight UTC);
//! profile, metadata and field values go in as JSON strings, read as the field's type later by
//! the use-case. A row of empty cells is skipped; a row whose number of cells differs from the header's is a problem (its values
//! could be in the wrong columns). A cell that cannot be read is left out and said (no value
//! guessed: an unreadable `created_at` leaves the import's date, an unreadable
//! `email_verified` an address not confirmed), but for the address and `disabled`: then the
//! user is not imported. Line numbers are the file's (the header is line 1; a quoted
//! cell may span lines: a record is numbered by its first).

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use csv::{ByteRecord, ReaderBuilder};

use super::json::MAX_LINE;
use super::mapping::Target;
use super::{Each, Mapping, ReadError};
use crate::import::{ImportProblem, ImportRecord};

pub(super) fn read(
    input: impl BufRead,
    mapping: Option<&Mapping>,
    each: &mut Each<'_>,
) -> Result<(), ReadError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Lines::new(input));
    let mut row = ByteRecord::new();
    if !reader.read_byte_record(&mut row).map_err(csv_error)? {
        return Err(ReadError::NotFormat {
            line: 1,
            message: "the file is empty: a CSV file of users starts with a header".to_owned(),
        });
    }
    let mut header = Header::new(&row, mapping)?;
    let mut notes = std::mem::take(&mut header.notes);
    let mut last = reader.get_mut().line_of_record(0);
    while reader
        .read_byte_record(&mut row)
        .map_err(|error| record_error(error, last))?
    {
        let start = row.position().map_or(0, |position| position.byte());
        let line = reader.get_mut().line_of_record(start);
        last = line;
        // A row of empty cells is a spreadsheet's empty line, not a user.
        if row
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        let mut result = header.record(line, &row);
        if let Ok(record) = &mut result
            && !notes.is_empty()
        {
            record.notes.append(&mut notes);
        }
        if each(result).is_break() {
            break;
        }
    }
    Ok(())
}

/// The input of the CSV reader, noting where its line breaks are so that a record's line is
/// known: the csv crate numbers a record from where its reading began, before the blank lines
/// and the `\n` of a CRLF that it skips. Only the breaks not yet passed are kept (those of the
/// bytes read ahead and of the current record), consecutive ones as one run.
///
/// It also bounds a record: the csv crate holds a whole record in memory, and a quote that is
/// never closed makes the rest of the file one record. Past [`MAX_LINE`] bytes (and the
/// reader's look-ahead) read since the last record, the reading fails ([`TooLong`]).
struct Lines<R> {
    input: R,
    /// Offset of the next byte read.
    offset: u64,
    /// Bytes read since the last record was read.
    since_record: u64,
    /// Runs of `\r` and `\n` bytes not yet passed.
    breaks: VecDeque<Breaks>,
    /// The `\n` bytes passed.
    passed: u64,
}

/// Consecutive `\r` and `\n` bytes, from `start` to before `end`.
struct Breaks {
    start: u64,
    end: u64,
    newlines: u64,
}

impl<R> Lines<R> {
    fn new(input: R) -> Self {
        Lines {
            input,
            offset: 0,
            since_record: 0,
            breaks: VecDeque::new(),
            passed: 0,
        }
    }

    /// The line of the first byte of the record whose reading began at byte `start`: after the
    /// breaks before `start` and the run of them `start` is in (what the reading skipped).
    fn line_of_record(&mut self, start: u64) -> u64 {
        self.since_record = 0;
        while let Some(breaks) = self.breaks.front()
            && breaks.start <= start
        {
            self.passed += breaks.newlines;
            self.breaks.pop_front();
        }
        self.passed + 1
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // The csv crate reads ahead at most its buffer (8 KiB); 64 KiB of slack is plenty.
        if self.since_record > (MAX_LINE as u64) + (64 << 10) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLong));
        }
        let n = self.input.read(buffer)?;
        self.since_record += n as u64;
        for (at, byte) in (self.offset..).zip(buffer.iter().take(n)) {
            if *byte != b'\n' && *byte != b'\r' {
                continue;
            }
            let newline = u64::from(*byte == b'\n');
            match self.breaks.back_mut() {
                Some(last) if last.end == at => {
                    last.end += 1;
                    last.newlines += newline;
                }
                _ => self.breaks.push_back(Breaks {
                    start: at,
                    end: at + 1,
                    newlines: newline,
                }),
            }
        }
        self.offset += u64::try_from(n).unwrap_or(u64::MAX);
        Ok(n)
    }
}

/// A record longer than [`MAX_LINE`] bytes.
#[derive(Debug, thiserror::Error)]
#[error("a CSV record longer than 1 MiB")]
struct TooLong;

/// An error of reading the record after the one on line `last`.
fn record_error(error: csv::Error, last: u64) -> ReadError {
    if let csv::ErrorKind::Io(io) = error.kind()
        && io.get_ref().is_some_and(|inner| inner.is::<TooLong>())
    {
        return ReadError::NotFormat {
            line: last + 1,
            message: format!(
                "the record after line {last} runs on for more than {} MiB: a quoted cell is \
                 probably not closed (a `\"` without its pair); nothing after line {last} is read",
                MAX_LINE >> 20
            ),
        };
    }
    csv_error(error)
}

fn csv_error(error: csv::Error) -> ReadError {
    let line = error.position().map_or(0, |position| position.line());
    let message = format!("not CSV: {error}");
    match error.into_kind() {
        csv::ErrorKind::Io(error) => ReadError::Io(error),
        _ => ReadError::NotFormat { line, message },
    }
}

/// The columns of the file: each one's name and target (`None`: left out).
struct Header {
    columns: Vec<(String, Option<Target>)>,
    /// What the header leaves out, said once, in the first record.
    notes: Vec<String>,
}

impl Header {
    fn new(row: &ByteRecord, mapping: Option<&Mapping>) -> Result<Header, ReadError> {
        let names: Vec<String> = row
            .iter()
            .map(|name| String::from_utf8_lossy(name).trim().to_owned())
            .collect();
        let mut notes = Vec::new();
        let columns: Vec<_> = match mapping {
            None => names
                .into_iter()
                .enumerate()
                .map(|(i, name)| match Target::parse(&name) {
                    Ok(target) => (name, Some(target)),
                    Err(e) => {
                        notes.push(format!("column {} is left out: {e}", i + 1));
                        (name, None)
                    }
                })
                .collect(),
            Some(mapping) => {
                let columns: Vec<_> = names
                    .into_iter()
                    .map(|name| {
                        let target = mapping.target_of(&name).cloned();
                        (name, target)
                    })
                    .collect();
                let unmapped: Vec<_> = columns
                    .iter()
                    .filter(|(name, target)| target.is_none() && !name.is_empty())
                    .map(|(name, _)| format!("`{name}`"))
                    .collect();
                if !unmapped.is_empty() {
                    notes.push(format!(
                        "columns not in the mapping are left out: {}",
                        unmapped.join(", ")
                    ));
                }
                let missing: Vec<_> = mapping
                    .columns()
                    .filter(|(source, _)| !columns.iter().any(|(name, _)| name == source))
                    .map(|(source, _)| format!("`{source}`"))
                    .collect();
                if !missing.is_empty() {
                    notes.push(format!(
                        "columns of the mapping are not in the file: {}",
                        missing.join(", ")
                    ));
                }
                columns
            }
        };
        // Two columns for one target: one of them would be lost without a word.
        for (i, (name, target)) in columns.iter().enumerate() {
            if let Some(target) = target
                && let Some(j) = columns[..i]
                    .iter()
                    .position(|(_, other)| other.as_ref() == Some(target))
            {
                return Err(ReadError::NotFormat {
                    line: 1,
                    message: format!(
                        "columns {} (`{}`) and {} (`{name}`) are for the same value: keep one",
                        j + 1,
                        columns[j].0,
                        i + 1
                    ),
                });
            }
        }
        if !columns
            .iter()
            .any(|(_, target)| *target == Some(Target::Email))
        {
            let mut message = match mapping.map(Mapping::email_source) {
                None => "the header has no `email` column".to_owned(),
                Some(Some(source)) => {
                    format!("the header has no column `{source}`, mapped to `email`")
                }
                Some(None) => "the mapping sends no column to `email` (each user needs an \
                               address): check the spelling of its targets"
                    .to_owned(),
            };
            // JSON read as CSV: its first "column" is the first member of an object.
            if columns
                .first()
                .is_some_and(|(name, _)| name.trim_start().starts_with(['{', '[']))
            {
                message.push_str(
                    " (this is JSON, not CSV: one JSON object per line is --format auth0 or \
                     --format jsonl, a Keycloak realm export --format keycloak)",
                );
                return Err(ReadError::NotFormat { line: 1, message });
            }
            // A spreadsheet saved with another separator reads as one column.
            if let Some(separator) = [';', '\t', '|']
                .into_iter()
                .find(|c| columns.iter().any(|(name, _)| name.contains(*c)))
            {
                message.push_str(&format!(
                    " (columns are separated by commas; this header has {:?}: save the file \
                     as comma-separated values)",
                    separator
                ));
            }
            return Err(ReadError::NotFormat { line: 1, message });
        }
        Ok(Header { columns, notes })
    }

    fn record(&self, line: u64, row: &ByteRecord) -> Result<ImportRecord, ImportProblem> {
        if row.len() != self.columns.len() {
            return Err(ImportProblem::new(
                line,
                "",
                format!(
                    "{} cells where the header has {} columns",
                    row.len(),
                    self.columns.len()
                ),
            ));
        }
        let mut record = ImportRecord {
            line,
            ..ImportRecord::default()
        };
        // Every cell that cannot be read is said, not only the first. Such a cell is left out
        // and the rest of the user imported (an unreadable `created_at`: the import's date; an
        // unreadable `email_verified`: not confirmed), but for the address and `disabled`,
        // which refuse the user: imported, a disabled person would be let in.
        // A refused user's problem names every cell that cannot be read, the others too.
        let mut unread: Vec<(&str, String)> = Vec::new();
        let mut refused = false;
        for ((name, target), cell) in self.columns.iter().zip(row.iter()) {
            let Some(target) = target else {
                continue;
            };
            let read = match std::str::from_utf8(cell) {
                Err(_) => Err("the cell is not UTF-8 text".to_owned()),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => target.apply_text(&mut record, text),
            };
            if let Err(message) = read {
                refused |= matches!(target, Target::Email | Target::Disabled);
                unread.push((name, message));
            }
        }
        if !refused {
            for (name, message) in unread.drain(..) {
                record.leave_out(name, format!("{message}: left out"));
            }
        }
        match unread.as_slice() {
            [] => {}
            [(name, message)] => return Err(ImportProblem::new(line, *name, message.clone())),
            several => {
                let names: Vec<&str> = several.iter().map(|(name, _)| *name).collect();
                let reasons: Vec<String> = several
                    .iter()
                    .map(|(name, message)| format!("`{name}`: {message}"))
                    .collect();
                return Err(ImportProblem::new(
                    line,
                    names.join(", "),
                    format!(
                        "{} cells cannot be read: {}",
                        several.len(),
                        reasons.join("; ")
                    ),
                ));
            }
        }
        if record.email.trim().is_empty() {
            let column = self
                .columns
                .iter()
                .find(|(_, target)| *target == Some(Target::Email))
                .map_or("email", |(name, _)| name.as_str());
            return Err(ImportProblem::new(
                line,
                column,
                "the user has no email address",
            ));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;
    use std::ops::ControlFlow;
    use time::macros::datetime;

    fn read_text(
        text: &str,
        mapping: Option<&Mapping>,
    ) -> Result<Vec<Result<ImportRecord, ImportProblem>>, ReadError> {
        let mut seen = Vec::new();
        read(Cursor::new(text.as_bytes().to_vec()), mapping, &mut |r| {
            seen.push(r);
            ControlFlow::Continue(())
        })?;
        Ok(seen)
    }

    fn read_bytes(bytes: Vec<u8>) -> Vec<Result<ImportRecord, ImportProblem>> {
        let mut seen = Vec::new();
        read(Cursor::new(bytes), None, &mut |r| {
            seen.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn each_header_names_its_target_without_a_mapping() {
        let text = "email,email_verified,profile.given_name,user_metadata.team,company,created_at,disabled\r\n\
                    ada@example.com,yes,Ada,core,Acme,2024-02-03,0\r\n";
        let seen = read_text(text, None).unwrap();
        let record = seen[0].as_ref().unwrap();
        assert_eq!(record.line, 2);
        assert_eq!(record.email, "ada@example.com");
        assert!(record.email_verified);
        assert!(!record.disabled);
        assert_eq!(record.profile["given_name"], "Ada");
        assert_eq!(record.user_metadata["team"], "core");
        assert_eq!(record.fields, vec![("company".to_owned(), json!("Acme"))]);
        assert_eq!(record.created_at, Some(datetime!(2024-02-03 00:00 UTC)));
        assert!(record.notes.is_empty());
    }

    #[test]
    fn a_header_without_email_is_not_a_csv_of_users() {
        let error = read_text("name,company\nAda,Acme\n", None).unwrap_err();
        assert!(
            matches!(&error, ReadError::NotFormat { line: 1, message } if message.contains("email")),
            "{error:?}"
        );
        assert!(matches!(
            read_text("", None),
            Err(ReadError::NotFormat { line: 1, .. })
        ));
    }

    #[test]
    fn a_header_naming_one_value_twice_or_with_another_separator_says_so() {
        for (header, says) in [
            (
                "email,given_name,email",
                "columns 1 (`email`) and 3 (`email`)",
            ),
            (
                "email,company, company",
                "columns 2 (`company`) and 3 (`company`)",
            ),
            ("email;given_name", "this header has ';'"),
            ("email\tgiven_name", "this header has '\\t'"),
            // An Auth0 line: the `|` of its ids is no separator.
            (
                r#"{"user_id":"auth0|1","email":"a@example.com"}"#,
                "this is JSON, not CSV",
            ),
        ] {
            let error = read_text(&format!("{header}\na@example.com,x,y\n"), None).unwrap_err();
            assert!(
                matches!(&error, ReadError::NotFormat { line: 1, message } if message.contains(says)),
                "{header}: {error:?}"
            );
        }
    }

    #[test]
    fn empty_cells_are_absent_and_quoted_cells_may_hold_commas_and_lines() {
        let text = "\u{feff}email,profile.name,company\n\
                    a@example.com,,\n\
                    b@example.com,\"Lovelace, Ada\",\"Acme\nLtd\"\n\
                    c@example.com,   ,x\n";
        let seen = read_text(text, None).unwrap();
        let a = seen[0].as_ref().unwrap();
        assert!(a.profile.is_empty() && a.fields.is_empty());
        let b = seen[1].as_ref().unwrap();
        assert_eq!(b.line, 3);
        assert_eq!(b.profile["name"], "Lovelace, Ada");
        assert_eq!(b.fields, vec![("company".to_owned(), json!("Acme\nLtd"))]);
        let c = seen[2].as_ref().unwrap();
        assert_eq!(c.line, 5);
        assert!(c.profile.is_empty());
    }

    #[test]
    fn records_are_numbered_by_their_first_line_whatever_the_line_ends_and_blank_lines() {
        let text = "email,company\r\n\r\na@example.com,\"A\r\nB\"\r\n\r\n,\r\n  \r\nb@example.com,C\r\nc@example.com,D";
        let lines: Vec<_> = read_text(text, None)
            .unwrap()
            .iter()
            .map(|r| r.as_ref().unwrap().line)
            .collect();
        assert_eq!(lines, vec![3, 8, 9]);
    }

    #[test]
    fn a_bad_cell_or_a_short_row_is_a_problem_of_its_line_and_reading_goes_on() {
        let text = "email,email_verified,created_at\n\
                    a@example.com,perhaps,\n\
                    b@example.com,true\n\
                    c@example.com,no,yesterday\n\
                    ,true,\n\
                    d@example.com,1,2024-01-01T12:00:00Z\n";
        let seen = read_text(text, None).unwrap();
        assert_eq!(seen.len(), 5);
        // A cell that cannot be read is left out, and said; the user is read.
        let left_out = |record: &ImportRecord| -> Vec<String> {
            record
                .left_out
                .iter()
                .map(|(what, _)| what.clone())
                .collect()
        };
        let a = seen[0].as_ref().unwrap();
        assert_eq!(left_out(a), ["email_verified"]);
        assert!(!a.email_verified);
        assert_eq!(
            seen[1],
            Err(ImportProblem::new(
                3,
                "",
                "2 cells where the header has 3 columns"
            ))
        );
        let c = seen[2].as_ref().unwrap();
        assert_eq!(left_out(c), ["created_at"]);
        assert_eq!(c.created_at, None);
        assert_eq!(
            seen[3],
            Err(ImportProblem::new(
                5,
                "email",
                "the user has no email address"
            ))
        );
        assert_eq!(
            seen[4].as_ref().unwrap().created_at,
            Some(datetime!(2024-01-01 12:00 UTC))
        );
    }

    #[test]
    fn a_quote_never_closed_stops_the_reading_past_a_mebibyte_and_says_where() {
        let mut text =
            String::from("email,user_metadata.bio\na@example.com,fine\nb@example.com,\"open\n");
        while text.len() < 3 << 20 {
            text.push_str("c@example.com,a row swallowed by the open quote\n");
        }
        let mut seen = Vec::new();
        let error = read(Cursor::new(text.into_bytes()), None, &mut |r| {
            seen.push(r);
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert_eq!(seen.len(), 1, "the user before it is read");
        match error {
            ReadError::NotFormat { line, message } => {
                assert_eq!(line, 3);
                assert!(message.contains("not closed"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A record just under the bound is read.
        let long = format!(
            "email,user_metadata.bio\na@example.com,\"{}\"\n",
            "x".repeat(MAX_LINE - 100)
        );
        assert!(read_text(&long, None).unwrap()[0].is_ok());
    }

    #[test]
    fn a_row_with_several_bad_cells_names_each_of_them() {
        let text = "email,email_verified,created_at
                    a@example.com,perhaps,yesterday
";
        let seen = read_text(text, None).unwrap();
        let record = seen[0].as_ref().unwrap();
        let left_out: Vec<&str> = record
            .left_out
            .iter()
            .map(|(what, _)| what.as_str())
            .collect();
        assert_eq!(left_out, ["email_verified", "created_at"]);
        assert!(
            record.left_out[1].1.contains("yesterday"),
            "{:?}",
            record.left_out
        );
        // `disabled` refuses the user, with every cell of the row that refuses it.
        let text = "email,disabled,created_at\n\u{fffe}@x.org,maybe,\n";
        let mut bytes = text.as_bytes().to_vec();
        // An address cell that is not UTF-8.
        let at = bytes.iter().position(|b| *b == 0xef).unwrap();
        bytes.splice(at..at + 3, [0xff]);
        let seen = read_bytes(bytes);
        let problem = seen[0].as_ref().unwrap_err();
        assert_eq!(
            (problem.line, problem.path.as_str()),
            (2, "email, disabled")
        );
        assert!(
            problem
                .message
                .starts_with("2 cells cannot be read: `email`: "),
            "{problem:?}"
        );
        // A refused row names its other unreadable cells too (they would be left out of a
        // user imported): mending the row takes one run, not one per cell.
        let seen = read_text(
            "email,disabled,created_at
a@x.org,maybe,yesterday
",
            None,
        )
        .unwrap();
        let problem = seen[0].as_ref().unwrap_err();
        assert_eq!(problem.path, "disabled, created_at", "{problem:?}");
        assert!(problem.message.contains("yesterday"), "{problem:?}");
    }

    #[test]
    fn with_a_mapping_only_mapped_columns_are_read_and_the_rest_is_noted_once() {
        let mapping = Mapping::parse(
            "[columns]\n\"E-mail\" = \"email\"\n\"First name\" = \"profile.given_name\"\n\"Phone\" = \"profile.phone_number\"\n",
        )
        .unwrap();
        let text = "E-mail,First name,Notes\na@example.com,Ada,hello\nb@example.com,Grace,\n";
        let seen = read_text(text, Some(&mapping)).unwrap();
        let first = seen[0].as_ref().unwrap();
        assert_eq!(first.profile["given_name"], "Ada");
        assert_eq!(first.profile.len(), 1);
        assert!(first.fields.is_empty());
        assert_eq!(
            first.notes,
            vec![
                "columns not in the mapping are left out: `Notes`",
                "columns of the mapping are not in the file: `Phone`",
            ]
        );
        assert!(seen[1].as_ref().unwrap().notes.is_empty());
        let misspelled = Mapping::parse("[columns]\n\"E-mail\" = \"emial\"\n").unwrap();
        let error = read_text("E-mail\nada@example.com\n", Some(&misspelled)).unwrap_err();
        assert!(
            matches!(&error, ReadError::NotFormat { message, .. }
                if message.starts_with("the mapping sends no column to `email`")),
            "{error:?}"
        );
        let error = read_text("Mail,Name\n", Some(&mapping)).unwrap_err();
        assert!(
            matches!(&error, ReadError::NotFormat { message, .. } if message.contains("E-mail")),
            "{error:?}"
        );
    }

    #[test]
    fn a_cell_that_is_not_utf8_is_a_problem_of_its_column() {
        let mut bytes = b"email,profile.name\na@example.com,".to_vec();
        bytes.extend_from_slice(b"\xff\xfe\n");
        let seen = read_bytes(bytes);
        assert_eq!(seen.len(), 1);
        let record = seen[0].as_ref().unwrap();
        assert_eq!(
            record.left_out,
            [(
                "profile.name".to_owned(),
                "the cell is not UTF-8 text: left out".to_owned()
            )]
        );
    }
}
