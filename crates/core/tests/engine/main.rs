//! Integration tests of the profiling engine, as specifications.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

mod answers;
mod dates;
mod document;
mod durations;
mod expressions;
mod properties;
mod reasks;
mod reports;
mod second_factor;
mod signins;
mod skips;
mod stories;
mod support;
mod triggers;
mod validity;
