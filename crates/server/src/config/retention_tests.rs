//! The `[retention]` table: days as the sweeper takes them, `0` and absence keep for good, out
//! of bounds refused with the key named.

use std::path::Path;

use crate::config::{Config, ConfigError, Layer};

fn resolve(file: &str) -> Result<Config, ConfigError> {
    let file = Layer::from_toml(Path::new("accrete.toml"), file)?;
    Config::resolve(Layer::default(), Layer::default(), file)
}

#[test]
fn retention_days_become_durations_and_zero_keeps_for_good() {
    let config = resolve("[retention]\nhistory_days = 400\nevents_days = 0\n").unwrap();
    let retention = config.settings().retention;
    assert_eq!(retention.history, Some(time::Duration::days(400)));
    assert_eq!(retention.events, None);
    let default = resolve("").unwrap().settings().retention;
    assert_eq!((default.history, default.events), (None, None));
    assert!(config.to_masked_toml().contains("history_days = 400"));
}

#[test]
fn a_retention_beyond_a_hundred_years_or_an_unknown_key_is_refused() {
    let error = resolve("[retention]\nevents_days = 40000\n").unwrap_err();
    assert!(
        error.to_string().contains("retention.events_days"),
        "{error}"
    );
    let error = resolve("[retention]\nhistory = 3\n").unwrap_err();
    assert!(error.to_string().contains("history"), "{error}");
}
