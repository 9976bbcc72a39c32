//! `/account`: the signed-in user sees the fields they may read and edits those they may edit,
//! with the same validation as the prompts; write-once values stay as they are; changes are
//! recorded with source `account`.

use std::collections::BTreeSet;

use accrete_app::facts::stored_value;
use accrete_app::fields::form_values;
use accrete_app::prompts::{save_account_answers, user_may_edit as editable};
use accrete_core::{
    CompiledPolicy, Field, FieldErrors as AnswerErrors, RawAnswers, UserAccess, validate_answers,
};
use accrete_store::User;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::csrf;
use super::errors::store_failure;
use super::form::{FieldView, field_view, split_post};
use super::i18n::text;
use super::transaction::{TransactionView, locale as page_locale};
use crate::session;
use crate::state::AppState;

/// `GET /account`.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let locale = page_locale(&TransactionView::default(), &headers);
    match signed_in(&state, &jar, locale).await {
        Ok((user, policy)) => {
            let values = |field: &Field| {
                stored_value(&user, field)
                    .map(form_values)
                    .unwrap_or_default()
            };
            render(
                &state,
                jar,
                locale,
                StatusCode::OK,
                &user,
                policy.as_deref(),
                &values,
                &AnswerErrors::default(),
                None,
            )
        }
        Err(response) => response,
    }
}

/// `POST /account`: saves the editable fields.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page_locale(&TransactionView::default(), &headers);
    let (user, policy) = match signed_in(&state, &jar, locale).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (own, raw) = split_post(pairs);
    // Shown again after an error: what was entered in the editable fields, and the stored
    // values of the read-only ones (a write-once birthday, the accepted terms), never posted.
    let posted = |field: &Field| {
        if editable(field, &user) {
            raw.get(field.key.as_str()).cloned().unwrap_or_default()
        } else {
            stored_value(&user, field)
                .map(form_values)
                .unwrap_or_default()
        }
    };
    let Some(policy) = policy else {
        return Redirect::to("/account").into_response();
    };
    if !csrf::verify(&jar, own.get("csrf").map(String::as_str)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(
            &state,
            jar,
            locale,
            StatusCode::FORBIDDEN,
            &user,
            Some(&policy),
            &posted,
            &AnswerErrors::default(),
            alert,
        );
    }
    // Fields the user may change and either has a value for or filled in now: an untouched
    // empty field is not an answer.
    let keys: Vec<&str> = policy
        .fields()
        .iter()
        .filter(|f| editable(f, &user))
        .filter(|f| {
            stored_value(&user, f).is_some()
                || raw
                    .get(f.key.as_str())
                    .is_some_and(|v| v.iter().any(|s| !s.trim().is_empty()))
        })
        .map(|f| f.key.as_str())
        .collect();
    let allowed: BTreeSet<&str> = keys.iter().copied().collect();
    let raw: RawAnswers = raw
        .clone()
        .into_iter()
        .filter(|(k, _)| allowed.contains(k.as_str()))
        .collect();
    let answers = match validate_answers(&policy, &keys, &raw, locale, now.date()) {
        Ok(answers) => answers,
        Err(errors) => {
            let alert = Some(text(locale, "error.summary"));
            return render(
                &state,
                jar,
                locale,
                StatusCode::BAD_REQUEST,
                &user,
                Some(&policy),
                &posted,
                &errors,
                alert,
            );
        }
    };
    match save_account_answers(&state.app, &policy, user.id, &keys, &answers, now).await {
        Ok(user) => {
            let values = |field: &Field| {
                stored_value(&user, field)
                    .map(form_values)
                    .unwrap_or_default()
            };
            let notice = Some(text(locale, "account.saved"));
            render_with_notice(&state, jar, locale, &user, &policy, &values, notice)
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// The signed-in user and the policy in force; otherwise the sign-in page.
async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
    locale: &str,
) -> Result<(User, Option<std::sync::Arc<CompiledPolicy>>), Response> {
    let now = OffsetDateTime::now_utc();
    let session = session::current(state, jar, now)
        .await
        .map_err(|e| store_failure(state, locale, &e))?;
    let Some(session) = session else {
        return Err(Redirect::to("/login").into_response());
    };
    let user = match state.store.get_user(session.user_id).await {
        Ok(user) => user,
        Err(accrete_store::StoreError::NotFound) => {
            return Err(Redirect::to("/login").into_response());
        }
        Err(error) => return Err(store_failure(state, locale, &error)),
    };
    let policy = state
        .app
        .policy()
        .await
        .map_err(|e| store_failure(state, locale, &e))?;
    Ok((user, policy))
}

fn render_with_notice(
    state: &AppState,
    jar: CookieJar,
    locale: &'static str,
    user: &User,
    policy: &CompiledPolicy,
    values: &dyn Fn(&Field) -> Vec<String>,
    notice: Option<String>,
) -> Response {
    page(
        state,
        jar,
        locale,
        StatusCode::OK,
        user,
        Some(policy),
        values,
        &AnswerErrors::default(),
        None,
        notice,
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one page, passed through"
)]
fn render(
    state: &AppState,
    jar: CookieJar,
    locale: &'static str,
    status: StatusCode,
    user: &User,
    policy: Option<&CompiledPolicy>,
    values: &dyn Fn(&Field) -> Vec<String>,
    errors: &AnswerErrors,
    alert: Option<String>,
) -> Response {
    page(
        state, jar, locale, status, user, policy, values, errors, alert, None,
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one page, passed through"
)]
fn page(
    state: &AppState,
    jar: CookieJar,
    locale: &'static str,
    status: StatusCode,
    user: &User,
    policy: Option<&CompiledPolicy>,
    values: &dyn Fn(&Field) -> Vec<String>,
    errors: &AnswerErrors,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    let fields: Vec<FieldView> = policy
        .map(|policy| {
            policy
                .fields()
                .iter()
                .filter(|f| f.user_access != UserAccess::None)
                .map(|field| {
                    let error = errors
                        .get(field.key.as_str())
                        .first()
                        .map(|e| e.message.clone());
                    let mut view = field_view(policy, field, locale, &values(field), error);
                    view.readonly = !editable(field, user);
                    view
                })
                .filter(|view| !view.readonly || !view.values.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let editable_count = fields.iter().filter(|f| !f.readonly).count();
    let (jar, csrf) = csrf::token(jar, state.secure_cookies());
    let context = context! {
        locale,
        csrf,
        email => user.email,
        fields,
        editable => editable_count > 0,
        alert,
        notice,
    };
    (jar, state.pages.render(status, "account.html", context)).into_response()
}
