//! `/account/sessions`: where the user is signed in (the device in words, "this device"
//! marked), signing out of one session or of all the others; the applications holding refresh
//! tokens, and revoking one.

use accrete_app::account;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::csrf;
use super::super::errors::store_failure;
use super::super::i18n::{long_date, text};
use super::page::{AccountPage, AccountQuery};
use crate::state::AppState;

/// `GET /account/sessions`.
pub(crate) async fn show(
    State(state): State<AppState>,
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let page = match AccountPage::open(&state, &headers, jar, query.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let message = query.message(page.locale);
    render(&state, page, StatusCode::OK, message).await
}

/// The forms of this page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SessionsForm {
    csrf: String,
    return_to: Option<String>,
    /// `end` (one session), `end_others`, `revoke` (an application).
    action: String,
    session: Option<String>,
    client_id: Option<String>,
}

/// `POST /account/sessions`.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SessionsForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(&state, page, StatusCode::FORBIDDEN, (None, alert)).await;
    }
    let user_id = page.user.id;
    let done = match form.action.as_str() {
        "end" => {
            let id = form
                .session
                .as_deref()
                .and_then(|s| Uuid::parse_str(s).ok());
            match id {
                Some(id) => account::end_session(&state.app, user_id, id, now)
                    .await
                    .map(|_| "session_ended"),
                None => Ok("session_ended"),
            }
        }
        "end_others" => account::end_other_sessions(&state.app, user_id, page.session.id, now)
            .await
            .map(|_| "others_ended"),
        "revoke" => match form.client_id.as_deref() {
            Some(client_id) => account::revoke_application(&state.app, user_id, client_id, now)
                .await
                .map(|_| "app_revoked"),
            None => Ok("app_revoked"),
        },
        _ => {
            let alert = Some(text(locale, "error.summary"));
            return render(&state, page, StatusCode::BAD_REQUEST, (None, alert)).await;
        }
    };
    match done {
        Ok(done) => page.redirect("/account/sessions", done),
        Err(error) => store_failure(&state, locale, &error),
    }
}

async fn render(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    message: (Option<String>, Option<String>),
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page.locale;
    let user_id = page.user.id;
    let (sessions, applications) = match tokio::try_join!(
        account::sessions(&state.app, user_id, now),
        account::applications(&state.app, user_id, now),
    ) {
        Ok(found) => found,
        Err(error) => return store_failure(state, locale, &error),
    };
    let current = page.session.id;
    let sessions: Vec<minijinja::Value> = sessions
        .iter()
        .map(|s| {
            context! {
                id => s.id.to_string(),
                device => device_words(locale, s.user_agent.as_deref()),
                ip => s.ip,
                since => text(locale, "account.sessions.since")
                    .replace("{date}", &long_date(locale, s.created_at.date())),
                last_seen => text(locale, "account.sessions.last_seen")
                    .replace("{date}", &long_date(locale, s.last_seen_at.date())),
                current => s.id == current,
            }
        })
        .collect();
    let others = sessions.len() > 1;
    let applications: Vec<minijinja::Value> = applications
        .iter()
        .map(|a| {
            context! {
                client_id => a.client_id,
                name => a.client_name,
                scopes => a.scopes.join(" "),
                since => text(locale, "account.apps.since")
                    .replace("{date}", &long_date(locale, a.first_used_at.date())),
                last_used => text(locale, "account.apps.last_used")
                    .replace("{date}", &long_date(locale, a.last_used_at.date())),
            }
        })
        .collect();
    let extra = context! { sessions, others, applications };
    page.render(
        state,
        status,
        "sessions",
        "account_sessions.html",
        message,
        extra,
    )
}

/// A device in words from its `User-Agent`: "Firefox on Linux". Only the common browsers and
/// systems are named; anything else is "an unknown browser".
pub(crate) fn device_words(locale: &str, user_agent: Option<&str>) -> String {
    let (browser, os) = match user_agent {
        Some(ua) => (browser_of(ua), os_of(ua)),
        None => (None, None),
    };
    match (browser, os) {
        (Some(browser), Some(os)) => text(locale, "account.sessions.device")
            .replace("{browser}", browser)
            .replace("{os}", os),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(os)) => text(locale, "account.sessions.unknown_browser_on").replace("{os}", os),
        (None, None) => text(locale, "account.sessions.unknown_device"),
    }
}

/// The browser named by a `User-Agent` (order matters: Edge and Opera say "Chrome", Chrome says
/// "Safari").
fn browser_of(ua: &str) -> Option<&'static str> {
    const BROWSERS: [(&str, &str); 9] = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
    ];
    BROWSERS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
        .or_else(|| (ua.contains("Safari/") && ua.contains("Version/")).then_some("Safari"))
        .or_else(|| ua.starts_with("curl/").then_some("curl"))
}

/// The operating system named by a `User-Agent`.
fn os_of(ua: &str) -> Option<&'static str> {
    const SYSTEMS: [(&str, &str); 8] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_user_agents_are_named_in_words() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
        ];
        for (ua, words) in cases {
            assert_eq!(device_words("en", Some(ua)), words, "{ua}");
        }
        assert_eq!(device_words("en", None), "Unknown device");
        assert_eq!(
            device_words("fr", Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")),
            "Firefox sur Linux"
        );
    }
}
