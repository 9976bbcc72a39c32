//! The passkeys of a user as the security section lists them (name, added, last used), and
//! whether this server offers passkeys at all.

use accrete_app::passkeys;
use accrete_store::StoredPasskey;
use minijinja::{Value, context};

use super::super::i18n::{self, text};
use crate::state::AppState;

/// The passkeys as the security section lists them, and whether this server offers them.
pub(crate) fn view(state: &AppState, locale: &str, list: &[StoredPasskey]) -> Value {
    let items: Vec<Value> = list
        .iter()
        .map(|p| {
            let added = i18n::long_date(locale, p.created_at.date());
            let used = match p.last_used_at {
                Some(at) => text(locale, "passkeys.last_used")
                    .replace("{date}", &i18n::long_date(locale, at.date())),
                None => text(locale, "passkeys.never_used"),
            };
            context! {
                id => p.id.to_string(),
                name => p.name,
                added => text(locale, "passkeys.added_on").replace("{date}", &added),
                used,
                synced => p.backup_eligible,
            }
        })
        .collect();
    context! {
        available => passkeys::relying_party(&state.app).is_ok(),
        items,
        name_max => passkeys::NAME_MAX_CHARS,
    }
}
