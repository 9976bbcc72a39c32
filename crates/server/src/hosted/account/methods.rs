//! The ways a user signs in (a password, linked providers), as the security section lists them
//! and the profile section reads them (fields a linked provider keeps up to date are read-only).

use std::collections::BTreeMap;

use accrete_app::federation::{self, LinkedMethod};
use accrete_app::prompts::user_may_edit;
use accrete_core::Field;
use accrete_store::User;
use minijinja::context;

use super::super::i18n::text;
use crate::state::AppState;

/// The ways a user signs in.
pub(crate) struct Methods {
    pub password: bool,
    /// Whether the user has a passkey (another way in besides these).
    pub passkeys: bool,
    pub linked: Vec<LinkedMethod>,
    /// Enabled providers not linked yet: `(name, display name)`.
    pub linkable: Vec<(String, String)>,
    /// Fields a linked provider keeps up to date (read-only here), with its display name.
    pub owned: BTreeMap<String, String>,
}

impl Methods {
    pub(crate) async fn of(
        state: &AppState,
        user: &User,
    ) -> Result<Methods, accrete_store::StoreError> {
        let linked = federation::linked_methods(&state.app, user.id).await?;
        let offered = federation::offered(&state.app, None).await?;
        let linkable = offered
            .iter()
            .filter(|c| !linked.iter().any(|l| l.connection == c.name()))
            .map(|c| (c.name().to_owned(), c.display_name()))
            .collect();
        let owned = federation::provider_owned_fields(&state.app, &linked).await?;
        Ok(Methods {
            password: user.password_hash.is_some(),
            passkeys: accrete_app::passkeys::has_passkeys(&state.app, user.id).await?,
            linked,
            linkable,
            owned,
        })
    }

    /// Whether the user may change `field` here.
    pub(crate) fn editable(&self, field: &Field, user: &User) -> bool {
        user_may_edit(field, user) && !self.owned.contains_key(field.key.as_str())
    }

    /// The display name of a connection (its name when unknown).
    pub(crate) fn provider_name(&self, connection: &str) -> String {
        self.linked
            .iter()
            .find(|m| m.connection == connection)
            .map(|m| m.display_name.clone())
            .or_else(|| {
                self.linkable
                    .iter()
                    .find(|(name, _)| name == connection)
                    .map(|(_, display)| display.clone())
            })
            .unwrap_or_else(|| connection.to_owned())
    }

    pub(crate) fn view(&self, locale: &str) -> minijinja::Value {
        let linked: Vec<minijinja::Value> = self
            .linked
            .iter()
            .map(|m| {
                let date = super::super::i18n::long_date(locale, m.linked_at.date());
                context! {
                    name => m.connection,
                    label => match &m.email {
                        Some(email) => text(locale, "account.linked_as")
                            .replace("{provider}", &m.display_name)
                            .replace("{email}", email),
                        None => m.display_name.clone(),
                    },
                    since => text(locale, "account.linked_since").replace("{date}", &date),
                }
            })
            .collect();
        let linkable: Vec<minijinja::Value> = self
            .linkable
            .iter()
            .map(|(name, display_name)| context! { name, display_name })
            .collect();
        // Never the last way in: unlinking is offered only when another way remains.
        let can_unlink =
            usize::from(self.password) + usize::from(self.passkeys) + self.linked.len() > 1;
        context! { password => self.password, linked, linkable, can_unlink }
    }
}
