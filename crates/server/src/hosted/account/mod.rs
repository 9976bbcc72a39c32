//! The account center (`/account…`): the signed-in user's own pages, one file per section
//! (profile, security, sessions and apps, data), over the shared page of `page.rs` (who is
//! signed in, the `return_to` application, the navigation, the notices) and the ways to sign in
//! of `methods.rs`. Routes are assembled in `hosted/mod.rs`.

pub(super) mod data;
mod methods;
mod page;
pub(super) mod profile;
pub(super) mod security;
pub(super) mod sessions;
