//! Integration tests of the profiling engine, as specifications.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod answers;
mod dates;
mod document;
mod durations;
mod expressions;
mod properties;
mod reasks;
mod reports;
mod signins;
mod skips;
mod stories;
mod support;
mod triggers;
mod validity;
