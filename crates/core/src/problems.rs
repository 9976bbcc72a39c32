//! Problems found when validating a policy, each with its location in the document.

use std::fmt;

/// One problem in a policy, e.g. `steps[2].fields[1]: unknown field "compnay"; did you mean
/// "company"?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where in the document: `fields[0].validation.pattern`, `steps[2].fields[1]`, ...
    pub path: String,
    /// What is wrong, and how to fix it when we can tell.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a policy (never empty when returned as an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyProblems {
    /// The problems, in document order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for PolicyProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while walking a policy.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// `" did you mean \"x\"?"` when a candidate is close enough to `wanted`, else empty.
pub(crate) fn did_you_mean<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let best = candidates
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, candidate)) => format!("; did you mean \"{candidate}\"?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_misspelling_gets_a_suggestion() {
        let hint = did_you_mean("compnay", ["company", "job_title"].into_iter());
        assert_eq!(hint, "; did you mean \"company\"?");
    }

    #[test]
    fn an_unrelated_name_gets_no_suggestion() {
        assert_eq!(did_you_mean("zzz", ["company"].into_iter()), "");
    }
}
