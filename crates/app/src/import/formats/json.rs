//! Reading JSON users one at a time, whatever the file's size: NDJSON line by line (Auth0's
//! export, Accrete's JSONL), and the users of one large JSON document (a Keycloak realm, an
//! Auth0 import file) element by element, each user built, handed on and dropped before the
//! next is read.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::mapping::{json_kind, parse_time};
use super::{Each, ReadError};
use crate::import::{ImportProblem, ImportRecord};

/// The longest line read as one user. A user is a few KiB; a longer line is not one, and is
/// skipped without being held in memory.
pub(super) const MAX_LINE: usize = 1 << 20;

/// Skips a UTF-8 byte order mark and the whitespace before the first value; returns that value's
/// first byte (`None`: the input is empty) and the number of line breaks skipped.
pub(super) fn peek_start(input: &mut impl BufRead) -> io::Result<(Option<u8>, u64)> {
    if input.fill_buf()?.starts_with(b"\xef\xbb\xbf") {
        input.consume(3);
    }
    let mut breaks = 0;
    loop {
        let buffer = input.fill_buf()?;
        let Some(&first) = buffer.first() else {
            return Ok((None, breaks));
        };
        if !first.is_ascii_whitespace() {
            return Ok((Some(first), breaks));
        }
        if first == b'\n' {
            breaks += 1;
        }
        input.consume(1);
    }
}

/// Reads NDJSON: one JSON object per line, blank lines skipped. Each object is turned into a
/// record by `user(line, object)`; a line that is not a JSON object is a problem of that line.
/// (A file that is one JSON list of users: [`read_list_or_lines`].)
/// A file whose first two lines (not blank) are not JSON objects, or whose only line is not
/// one, is not NDJSON at all (a pretty-printed JSON document, a CSV file...).
pub(super) fn read_lines(
    mut input: impl BufRead,
    each: &mut Each<'_>,
    mut user: impl FnMut(u64, Map<String, Value>) -> Result<ImportRecord, ImportProblem>,
) -> Result<(), ReadError> {
    let (_, skipped) = peek_start(&mut input)?;
    let mut line = skipped;
    let mut buffer = Vec::new();
    // Until a line is a JSON object: the first line's problem, held.
    let mut first_problem = None;
    let mut ndjson = false;
    while let Some(whole) = next_line(&mut input, &mut buffer)? {
        line += 1;
        if whole && buffer.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = if !whole {
            Err(format!("the line is longer than {} MiB", MAX_LINE >> 20))
        } else if let Err(e) = std::str::from_utf8(&buffer) {
            // Another encoding (Latin-1, UTF-16...): serde would speak of escapes or bytes.
            Err(format!(
                "the line is not UTF-8 text (its byte {} is not): save the file as UTF-8",
                e.valid_up_to() + 1
            ))
        } else {
            serde_json::from_slice::<Value>(&buffer)
                .map_err(|e| format!("not JSON: {}", without_position(&e)))
        };
        let object = match parsed {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => Err(format!(
                "{} is not a user (a JSON object)",
                json_kind(&other)
            )),
            Err(message) => Err(message),
        };
        if !ndjson {
            match (&object, first_problem.take()) {
                (Err(message), None) => {
                    first_problem = Some(ImportProblem::new(line, "", message.clone()));
                    continue;
                }
                (Err(_), Some(first)) => return Err(not_ndjson(&first)),
                (Ok(_), first) => {
                    ndjson = true;
                    if let Some(first) = first
                        && each(Err(first)).is_break()
                    {
                        return Ok(());
                    }
                }
            }
        }
        let result = match object {
            Ok(object) => user(line, object),
            Err(message) => Err(ImportProblem::new(line, "", message)),
        };
        if each(result).is_break() {
            break;
        }
    }
    match first_problem {
        Some(first) => Err(not_ndjson(&first)),
        None => Ok(()),
    }
}

fn not_ndjson(first: &ImportProblem) -> ReadError {
    let mut message = format!("not one JSON object per line ({})", first.message);
    // A document spread over lines: its first line ends inside it.
    if first.message.contains("EOF while parsing") {
        message.push_str(
            ": a JSON document spread over several lines, such as a Keycloak realm export, is \
             read with --format keycloak",
        );
    }
    ReadError::NotFormat {
        line: first.line,
        message,
    }
}

/// Reads the next line into `buffer`, at most [`MAX_LINE`] bytes of it: `Some(true)` a whole
/// line, `Some(false)` a line too long (the rest of it skipped), `None` the end of the input.
fn next_line(input: &mut impl BufRead, buffer: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buffer.clear();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    if input.by_ref().take(limit).read_until(b'\n', buffer)? == 0 {
        return Ok(None);
    }
    if buffer.last() == Some(&b'\n') || buffer.len() <= MAX_LINE {
        return Ok(Some(true));
    }
    buffer.clear();
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(end) => {
                input.consume(end + 1);
                break;
            }
            None => {
                let all = available.len();
                input.consume(all);
            }
        }
    }
    Ok(Some(false))
}

/// serde_json's message without its " at line L column C": the report gives the line itself.
pub(super) fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

/// Turns an error of reading a whole JSON document into the error of the file.
pub(super) fn document_error(error: serde_json::Error, what: &str) -> ReadError {
    if error.is_io() {
        return ReadError::Io(error.into());
    }
    let line = u64::try_from(error.line()).unwrap_or(u64::MAX);
    if error.is_eof() {
        // Not another kind of file: this one stops before its end (a copy cut short).
        return ReadError::NotFormat {
            line,
            message: format!(
                "the file ends in the middle of {what} (at its byte {} of that line): was it \
                 cut short?",
                error.column()
            ),
        };
    }
    let mut message = format!("not {what}: {}", without_position(&error));
    // One document, then more: JSON objects one per line.
    if error.to_string().starts_with("trailing characters") {
        message.push_str(
            " after the first JSON document: a file of one JSON object per line is read with \
             --format auth0 or --format jsonl",
        );
    }
    ReadError::NotFormat { line, message }
}

/// The users of a file that is either one JSON list of them (its first character `[`; a
/// record's `line` is then the user's position in the list) or NDJSON ([`read_lines`]): each
/// JSON object made a record by `user`. `list` names the list in errors.
pub(super) fn read_list_or_lines(
    mut input: impl BufRead,
    each: &mut Each<'_>,
    list: &str,
    mut user: impl FnMut(u64, Map<String, Value>) -> Result<ImportRecord, ImportProblem>,
) -> Result<(), ReadError> {
    let (start, _) = peek_start(&mut input)?;
    if start != Some(b'[') {
        return read_lines(input, each, user);
    }
    let mut handle = |position, value: Value| {
        each(match value {
            Value::Object(object) => user(position, object),
            other => Err(ImportProblem::new(
                position,
                "",
                format!("{} is not a user (a JSON object)", json_kind(&other)),
            )),
        })
    };
    UserList::new(&mut handle).read_list(input, list)
}

/// The users of a JSON list, streamed: each element is read as a JSON value and handed to
/// `user` with its 1-based position, which may stop the reading.
pub(super) struct UserList<'f> {
    user: &'f mut dyn FnMut(u64, Value) -> ControlFlow<()>,
    position: u64,
    /// Set when `user` asked to stop: the error that unwinds serde is then no error.
    pub(super) stopped: bool,
}

/// The message of the error that unwinds serde when the caller stops early.
const STOPPED: &str = "reading stopped by the caller";

impl<'f> UserList<'f> {
    pub(super) fn new(user: &'f mut dyn FnMut(u64, Value) -> ControlFlow<()>) -> Self {
        UserList {
            user,
            position: 0,
            stopped: false,
        }
    }

    /// Reads `input`, one JSON document that is the list of users itself.
    pub(super) fn read_list(&mut self, input: impl Read, what: &str) -> Result<(), ReadError> {
        let mut document = serde_json::Deserializer::from_reader(input);
        match (&mut *self).deserialize(&mut document) {
            Ok(()) => document.end().map_err(|e| document_error(e, what)),
            Err(_) if self.stopped => Ok(()),
            Err(e) => Err(document_error(e, what)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for &mut UserList<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut UserList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of users")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut users: A) -> Result<(), A::Error> {
        while let Some(user) = users.next_element::<Value>()? {
            self.position += 1;
            if (self.user)(self.position, user).is_break() {
                self.stopped = true;
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}

/// A JSON object whose `users` member is streamed through a [`UserList`]; its other members
/// are skipped without being kept. `found` tells whether it had `users`.
pub(super) struct WithUsers<'l, 'f> {
    pub(super) users: &'l mut UserList<'f>,
    pub(super) found: bool,
}

impl<'de> DeserializeSeed<'de> for &mut WithUsers<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut WithUsers<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `users`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some(key) = members.next_key::<String>()? {
            if key == "users" {
                members.next_value_seed(&mut *self.users)?;
                self.found = true;
            } else {
                members.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The members of one user's JSON object, read by kind: `null` is an absent member, a member of
/// another kind is the problem of the user's line, named by its key.
pub(super) struct Members<'a> {
    pub(super) line: u64,
    pub(super) object: &'a Map<String, Value>,
}

impl<'a> Members<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|value| !value.is_null())
    }

    pub(super) fn problem(&self, key: &str, message: impl Into<String>) -> ImportProblem {
        ImportProblem::new(self.line, key, message)
    }

    fn wrong(&self, key: &str, value: &Value, expected: &str) -> ImportProblem {
        self.problem(
            key,
            format!("{} where {expected} is expected", json_kind(value)),
        )
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<&'a str>, ImportProblem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong(key, other, "a string")),
        }
    }

    pub(super) fn flag(&self, key: &str) -> Result<Option<bool>, ImportProblem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong(key, other, "true or false")),
        }
    }

    pub(super) fn object(
        &self,
        key: &str,
    ) -> Result<Option<&'a Map<String, Value>>, ImportProblem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object)),
            Some(other) => Err(self.wrong(key, other, "an object")),
        }
    }

    pub(super) fn list(&self, key: &str) -> Result<&'a [Value], ImportProblem> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(list)) => Ok(list),
            Some(other) => Err(self.wrong(key, other, "a list")),
        }
    }

    /// A whole number, 0 or more.
    pub(super) fn count(&self, key: &str) -> Result<Option<i64>, ImportProblem> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => match value.as_i64() {
                Some(n) if n >= 0 => Ok(Some(n)),
                _ => Err(self.wrong(key, value, "a whole number, 0 or more")),
            },
        }
    }

    /// An RFC 3339 instant.
    pub(super) fn time(&self, key: &str) -> Result<Option<time::OffsetDateTime>, ImportProblem> {
        self.string(key)?
            .map(|text| parse_time(text).map_err(|e| self.problem(key, e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(text: &str) -> Result<Vec<Result<u64, ImportProblem>>, ReadError> {
        lines_of(text.as_bytes().to_vec())
    }

    /// The line of each record of NDJSON `bytes`, or its problem.
    fn lines_of(bytes: Vec<u8>) -> Result<Vec<Result<u64, ImportProblem>>, ReadError> {
        let mut seen = Vec::new();
        read_lines(
            Cursor::new(bytes),
            &mut |r| {
                seen.push(r.map(|record| record.line));
                ControlFlow::Continue(())
            },
            |line, _| {
                Ok(ImportRecord {
                    line,
                    ..ImportRecord::default()
                })
            },
        )?;
        Ok(seen)
    }

    #[test]
    fn ndjson_lines_are_numbered_from_the_files_first_line_blank_ones_included() {
        let seen = lines("\u{feff}\n{\"a\":1}\n\n  \n{\"b\":2}\r\n{oops\n[1]\n").unwrap();
        assert_eq!(seen[0], Ok(2));
        assert_eq!(seen[1], Ok(5));
        assert!(matches!(&seen[2], Err(p) if p.line == 6 && p.message.starts_with("not JSON")));
        assert!(matches!(&seen[3], Err(p) if p.line == 7 && p.message.contains("a list")));
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn a_file_whose_first_lines_are_not_json_objects_is_not_ndjson() {
        let error = lines("email,name\na@example.com,A\n").unwrap_err();
        assert!(
            matches!(error, ReadError::NotFormat { line: 1, .. }),
            "{error:?}"
        );
        let error = lines("\n\n{\n  \"users\": []\n}\n").unwrap_err();
        assert!(
            matches!(error, ReadError::NotFormat { line: 3, .. }),
            "{error:?}"
        );
        let error = lines("{\"email\": \n").unwrap_err();
        assert!(
            matches!(error, ReadError::NotFormat { line: 1, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_broken_first_line_followed_by_users_is_a_problem_of_its_line() {
        let seen = lines("{\"email\": \n{\"a\":1}\n").unwrap();
        assert!(matches!(&seen[0], Err(p) if p.line == 1 && p.message.starts_with("not JSON")));
        assert_eq!(seen[1], Ok(2));
    }

    #[test]
    fn a_line_in_another_encoding_is_said_to_be_not_utf8() {
        let mut text = b"{\"a\":1}\n{\"name\":\"Ren".to_vec();
        text.extend_from_slice(b"\xe9\"}\n{\"b\":2}\n");
        let seen = lines_of(text).unwrap();
        assert!(
            matches!(&seen[1], Err(p) if p.line == 2
                && p.message.starts_with("the line is not UTF-8 text (its byte 13 is not)")),
            "{seen:?}"
        );
        assert_eq!(seen[2], Ok(3));
    }

    #[test]
    fn an_overlong_line_is_a_problem_and_reading_goes_on() {
        let text = format!(
            "{{\"a\":1}}\n{{\"x\":\"{}\"}}\n{{\"b\":2}}\n",
            "y".repeat(MAX_LINE)
        );
        let seen = lines(&text).unwrap();
        assert_eq!(seen[0], Ok(1));
        assert!(matches!(&seen[1], Err(p) if p.line == 2 && p.message.contains("longer")));
        assert_eq!(seen[2], Ok(3));
    }

    #[test]
    fn the_users_member_is_streamed_and_the_rest_skipped() {
        let text = r#"{"realm":"r","clients":[{"a":[1,2,{"b":null}]}],"users":[{"n":1},{"n":2}],"x":true}"#;
        let mut seen = Vec::new();
        let mut user = |position, value: Value| {
            seen.push((position, value["n"].clone()));
            ControlFlow::Continue(())
        };
        let mut list = UserList::new(&mut user);
        let mut realm = WithUsers {
            users: &mut list,
            found: false,
        };
        let mut document = serde_json::Deserializer::from_slice(text.as_bytes());
        (&mut realm).deserialize(&mut document).unwrap();
        assert!(realm.found);
        assert_eq!(seen, vec![(1, Value::from(1)), (2, Value::from(2))]);
    }

    #[test]
    fn a_stopped_list_is_no_error_and_reads_no_further() {
        let mut count = 0;
        let mut user = |_, _| {
            count += 1;
            if count == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let mut list = UserList::new(&mut user);
        list.read_list(Cursor::new(b"[{}, {}, {}, {}".to_vec()), "a list")
            .unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn a_broken_document_names_its_line() {
        let mut user = |_, _| ControlFlow::Continue(());
        let mut list = UserList::new(&mut user);
        let error = list
            .read_list(
                Cursor::new(b"[\n{},\n{\"a\" 1}\n]".to_vec()),
                "a list of users",
            )
            .unwrap_err();
        assert!(
            matches!(error, ReadError::NotFormat { line: 3, .. }),
            "{error:?}"
        );
    }
}
