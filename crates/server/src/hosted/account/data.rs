//! `/account/data`: download everything kept about the user (one JSON document, an attachment
//! `accrete-data.json`), and delete the account after confirming with the password (or, for an
//! account without one, the email address typed again).

use accrete_app::account::{self, Confirmation, DeleteError, confirmation_for};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::super::credentials::FieldErrors;
use super::super::csrf;
use super::super::errors::{hashing_busy, store_failure};
use super::super::i18n::text;
use super::page::{AccountPage, AccountQuery};
use crate::session;
use crate::state::AppState;

/// `GET /account/data`.
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
    render(&state, page, StatusCode::OK, &FieldErrors::new(), message)
}

/// `GET /account/data/export`: the document, as a download.
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let page = match AccountPage::open(&state, &headers, jar, None).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let now = OffsetDateTime::now_utc();
    let document = match account::export(&state.app, page.user.id, now).await {
        Ok(document) => document,
        Err(error) => return store_failure(&state, page.locale, &error),
    };
    let body = match serde_json::to_vec_pretty(&document) {
        Ok(body) => body,
        Err(error) => {
            let error = accrete_store::StoreError::unexpected(error);
            return store_failure(&state, page.locale, &error);
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"accrete-data.json\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The deletion form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct DeleteForm {
    csrf: String,
    return_to: Option<String>,
    /// The password, or the email address for an account without one.
    confirmation: String,
}

/// `POST /account/data/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<DeleteForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let mut errors = FieldErrors::new();
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(&state, page, StatusCode::FORBIDDEN, &errors, (None, alert));
    }
    if form.confirmation.is_empty() {
        errors.insert("confirmation".into(), text(locale, "error.required"));
        let alert = Some(text(locale, "error.summary"));
        return render(
            &state,
            page,
            StatusCode::BAD_REQUEST,
            &errors,
            (None, alert),
        );
    }
    match account::delete_account(&state.app, page.user.id, form.confirmation, now).await {
        Ok(()) => {
            let jar = session::forget(page.jar);
            let body = state.pages.render(
                StatusCode::OK,
                "account_deleted.html",
                context! { locale, back => page.back.map(|b| context! {
                    uri => b.uri,
                    label => text(locale, "federation.back_to").replace("{client}", &b.client.name),
                }) },
            );
            (jar, body).into_response()
        }
        Err(DeleteError::WrongConfirmation(how)) => {
            let key = match how {
                Confirmation::Password => "account.delete.wrong_password",
                Confirmation::Email => "account.delete.wrong_email",
            };
            errors.insert("confirmation".into(), text(locale, key));
            let alert = Some(text(locale, "error.summary"));
            render(
                &state,
                page,
                StatusCode::BAD_REQUEST,
                &errors,
                (None, alert),
            )
        }
        // Nothing typed is wrong: the page says why, with no field to correct.
        Err(DeleteError::LastOwner) => {
            let alert = Some(text(locale, "account.delete.last_owner"));
            render(&state, page, StatusCode::CONFLICT, &errors, (None, alert))
        }
        Err(DeleteError::Busy) => hashing_busy(&state, locale),
        Err(DeleteError::Store(error)) => store_failure(&state, locale, &error),
    }
}

fn render(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    errors: &FieldErrors,
    message: (Option<String>, Option<String>),
) -> Response {
    let by_password = confirmation_for(&page.user) == Confirmation::Password;
    let extra = context! { by_password, errors };
    page.render(state, status, "data", "account_data.html", message, extra)
}
