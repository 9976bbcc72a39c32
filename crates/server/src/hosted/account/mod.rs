//! The account center (`/account…`): the signed-in user's own pages, one file per section
//! (profile, security, sessions and apps, data), over the shared page of `page.rs` (who is
//! signed in, the `return_to` application, the navigation, the notices) and the ways to sign in
//! of `methods.rs`; the passkeys of the security section in `passkeys.rs` (their list in
//! `passkey_list.rs`). Routes are assembled in `hosted/mod.rs`.

pub(super) mod data;
mod methods;
mod page;
mod passkey_list;
pub(super) mod passkeys;
pub(super) mod phone;
pub(super) mod profile;
pub(super) mod security;
pub(crate) mod sessions;
