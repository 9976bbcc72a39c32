//! `accrete keys ...`: list and rotate the signing keys, on the host.

use std::process::ExitCode;

use accrete_core::HumanDuration;
use accrete_oidc::keys::{Alg, KeyEncryptionKey};
use accrete_server::keys::{MAX_TOKEN_LIFETIME, ensure_keys, key_rows, rotate};
use accrete_server::secrets::ServerSecrets;
use anyhow::anyhow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::outln;
use crate::settings::{self, Flags};
use crate::store_open::{Locking, open_store, runtime};

/// Signing key commands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List the signing keys with their state (signing, next, published, retired).
    List {
        #[command(flatten)]
        flags: Flags,
    },
    /// Create new signing keys: published at once, signing after the delay; the keys they replace
    /// stay published until every token they signed has expired.
    Rotate {
        #[command(flatten)]
        flags: Flags,
        /// Algorithm to rotate (repeatable): RS256, ES256, EdDSA. Default: all three.
        #[arg(long = "alg", value_name = "ALG")]
        algs: Vec<String>,
        /// How long the new key is only published before it signs, so that servers (which reload
        /// keys every minute) and relying parties (which cache the JWKS) know it first.
        #[arg(long, value_name = "DURATION", default_value = "15m")]
        activate_after: HumanDuration,
    },
}

/// Runs a keys command.
pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::List { flags } => list(&flags),
        KeysCommand::Rotate {
            flags,
            algs,
            activate_after,
        } => rotate_keys(&flags, &algs, activate_after),
    }
}

fn kek(flags: &Flags) -> anyhow::Result<(accrete_server::Config, KeyEncryptionKey)> {
    let config = settings::load(flags)?;
    let secrets = ServerSecrets::load(config.master_key.as_deref(), &config.data_dir)?;
    let kek = KeyEncryptionKey::from_bytes(&secrets.key_encryption_key)?;
    Ok((config, kek))
}

fn parse_algs(names: &[String]) -> anyhow::Result<Vec<Alg>> {
    if names.is_empty() {
        return Ok(Alg::ALL.to_vec());
    }
    names
        .iter()
        .map(|name| {
            Alg::parse(name)
                .ok_or_else(|| anyhow!("unknown algorithm `{name}`: use RS256, ES256 or EdDSA"))
        })
        .collect()
}

fn rotate_keys(
    flags: &Flags,
    algs: &[String],
    activate_after: HumanDuration,
) -> anyhow::Result<ExitCode> {
    let algs = parse_algs(algs)?;
    let delay = time::Duration::try_from(activate_after.as_std())
        .map_err(|_| anyhow!("--activate-after is too long"))?;
    let (config, kek) = kek(flags)?;
    let now = OffsetDateTime::now_utc();
    let rotated = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        ensure_keys(store.as_ref(), &kek, now).await?;
        anyhow::Ok(rotate(store.as_ref(), &kek, &algs, delay, now).await?)
    })?;
    for done in rotated {
        outln!(
            "{}: new key {} published now, signs from {}",
            done.alg,
            done.kid,
            rfc3339(done.active_from)
        )?;
        for (kid, at) in done.retiring {
            outln!("    replaces {kid}, unpublished at {}", rfc3339(at))?;
        }
    }
    outln!(
        "old keys stay published {} after the new keys start signing (the longest token lifetime)",
        HumanDuration(MAX_TOKEN_LIFETIME.unsigned_abs())
    )?;
    Ok(ExitCode::SUCCESS)
}

fn list(flags: &Flags) -> anyhow::Result<ExitCode> {
    let (config, kek) = kek(flags)?;
    let now = OffsetDateTime::now_utc();
    let rows = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        anyhow::Ok(key_rows(store.as_ref(), &kek, now).await?)
    })?;
    if rows.is_empty() {
        outln!("no signing keys yet: the server generates them on first start")?;
    }
    for row in rows {
        outln!(
            "{:<6} {}  {:<9} active from {}{}",
            row.alg,
            row.kid,
            row.state,
            rfc3339(row.active_from),
            row.retired_at
                .map(|at| format!(", unpublished at {}", rfc3339(at)))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_default_to_all_and_unknown_names_are_refused() {
        assert_eq!(parse_algs(&[]).unwrap(), Alg::ALL.to_vec());
        assert_eq!(parse_algs(&["ES256".into()]).unwrap(), vec![Alg::ES256]);
        assert!(parse_algs(&["HS256".into()]).is_err());
    }
}
