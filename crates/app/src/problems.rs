//! A refused value, as plain data: where it is (a field key, a JSON path or a policy location),
//! a stable code and a sentence. The surfaces show these their own way (the API as the
//! `fields` of a problem document).

/// One refused value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `email`, `user_metadata.a.b`, `redirect_uris[0]`, `fields[2].key`, `$`, ...
    pub path: String,
    /// Stable code (`required`, `invalid_key`, `too_large`, `pattern`, ...).
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, code: &str, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Adds a problem to a list.
pub fn push(
    problems: &mut Vec<Problem>,
    path: impl Into<String>,
    code: &str,
    message: impl Into<String>,
) {
    problems.push(Problem::new(path, code, message));
}
