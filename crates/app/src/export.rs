//! Taking every user out (`accrete users export`, docs/import-export.md): one JSON object per
//! line, in the schema `accrete users import --format jsonl` reads back (the same ids, emails,
//! dates, sign-ins, values, their sources and times, how each step went and, when asked, their
//! history). A page of users is read at a
//! time, so memory stays bounded whatever the number of users.

use std::io::Write;

use accrete_store::{ExportedUser, StoreError};
use serde_json::{Map, Value, json};

use crate::account::rfc3339;
use crate::app::App;

/// Users read per page.
pub const PAGE: u32 = 1000;

/// What an export includes beyond the users and their values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Every change of each value (who or what made it, when).
    pub with_history: bool,
    /// The password hashes (so that the users keep their passwords in the next system). Off by
    /// default: the file then holds no secret.
    pub with_password_hashes: bool,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed (a full disk, a closed pipe).
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes every user to `out`, one line each, in id order; `progress` is told the count after
/// each page. Returns the number of users written.
pub async fn users(
    app: &App,
    options: Options,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    let mut after = None;
    let mut written = 0_u64;
    loop {
        let page = app
            .store()
            .export_users(after, PAGE, options.with_history)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.user.id);
        for user in &page {
            serde_json::to_writer(&mut *out, &line(user, options)).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
        written += page.len() as u64;
        progress(written);
    }
    out.flush()?;
    Ok(written)
}

/// One user as a line of the export.
pub fn line(exported: &ExportedUser, options: Options) -> Value {
    let user = &exported.user;
    let mut line = json!({
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
        "disabled": user.disabled_at.is_some(),
        "disabled_at": user.disabled_at.map(rfc3339),
        "sign_ins": {
            "credentialed": user.credentialed_logins,
            "sso": user.sso_logins,
            "last_at": user.last_login_at.map(rfc3339),
        },
    });
    if options.with_password_hashes
        && let Some(hash) = &user.password_hash
    {
        line["password_hash"] = json!(hash);
    }
    // Members in the order of their names, whatever the database kept: PostgreSQL's jsonb
    // orders them by length, SQLite as written, and an export is the same file from either.
    line["profile"] = sorted(&user.profile);
    line["user_metadata"] = sorted(&user.user_metadata);
    line["app_metadata"] = sorted(&user.app_metadata);
    let sources: Map<String, Value> = exported
        .provenance
        .iter()
        .map(|p| {
            (
                format!("{}.{}", p.location.as_str(), p.key),
                json!({"source": p.source, "at": rfc3339(p.updated_at)}),
            )
        })
        .collect();
    line["sources"] = Value::Object(sources);
    line["prompts"] = json!(exported.prompts);
    if options.with_history {
        line["history"] = exported
            .history
            .iter()
            .map(|entry| {
                json!({
                    "location": entry.location.as_str(),
                    "key": entry.key,
                    "old_value": entry.old_value.as_ref().map(sorted),
                    "new_value": entry.new_value.as_ref().map(sorted),
                    "source": entry.source,
                    "changed_at": rfc3339(entry.changed_at),
                })
            })
            .collect();
    }
    line
}

/// `value` with the members of each of its objects in the order of their names.
fn sorted(value: &Value) -> Value {
    let mut value = value.clone();
    value.sort_all_objects();
    value
}
