//! CSRF protection of hosted forms: a random per-browser token in an HttpOnly, SameSite=Lax
//! cookie, repeated in a hidden `csrf` input of every form and compared in constant time.

use accrete_oidc::secrets::{constant_time_eq, random_opaque};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

/// The cookie holding the browser's token (a federation round trip is bound to it too).
pub(crate) const COOKIE: &str = "accrete_csrf";

/// The browser's CSRF token, creating (and setting) one if it has none yet.
pub fn token(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(existing) = jar.get(COOKIE).map(|c| c.value().to_owned())
        && existing.len() >= 32
    {
        return (jar, existing);
    }
    let value = random_opaque();
    let cookie = Cookie::build((COOKIE, value.clone()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build();
    (jar.add(cookie), value)
}

/// Whether the submitted form token matches the browser's cookie.
pub fn verify(jar: &CookieJar, submitted: Option<&str>) -> bool {
    match (jar.get(COOKIE), submitted) {
        (Some(cookie), Some(form)) if !form.is_empty() => {
            constant_time_eq(cookie.value().as_bytes(), form.as_bytes())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_browser_gets_a_token_that_then_verifies() {
        let (jar, token) = token(CookieJar::new(), false);
        assert!(verify(&jar, Some(&token)));
        let (jar_again, same) = super::token(jar, false);
        assert_eq!(token, same, "the token is stable for a browser");
        assert!(!verify(&jar_again, Some("forged")));
        assert!(!verify(&jar_again, None));
    }

    #[test]
    fn a_form_without_the_cookie_is_refused() {
        assert!(!verify(&CookieJar::new(), Some("anything")));
    }
}
