//! `/account`: the signed-in user sees the fields they may read and edits those they may edit,
//! with the same validation as the prompts; write-once values stay as they are; changes are
//! recorded with source `account`.

use std::collections::{BTreeMap, BTreeSet};

use accrete_app::facts::stored_value;
use accrete_app::federation::{self, LinkedMethod};
use accrete_app::fields::form_values;
use accrete_app::prompts::{save_account_answers, user_may_edit as editable};
use accrete_core::{
    CompiledPolicy, Field, FieldErrors as AnswerErrors, RawAnswers, UserAccess, validate_answers,
};
use accrete_store::User;
use axum::Form;
use axum::extract::{Query, State};
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
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let locale = page_locale(&TransactionView::default(), &headers);
    match signed_in(&state, &jar, locale).await {
        Ok((user, policy, methods)) => {
            let (notice, alert) = query.message(locale);
            let values = |field: &Field| {
                stored_value(&user, field)
                    .map(form_values)
                    .unwrap_or_default()
            };
            page(
                &state,
                jar,
                locale,
                StatusCode::OK,
                (&user, &methods),
                policy.as_deref(),
                &values,
                &AnswerErrors::default(),
                alert,
                notice,
            )
        }
        Err(response) => response,
    }
}

/// Query of `GET /account`: what the last link or unlink did.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AccountQuery {
    linked: Option<String>,
    unlinked: Option<String>,
    last_way_in: Option<String>,
}

impl AccountQuery {
    /// The notice or alert to show.
    fn message(&self, locale: &str) -> (Option<String>, Option<String>) {
        if self.last_way_in.is_some() {
            return (None, Some(text(locale, "account.last_way_in")));
        }
        let notice = if self.linked.is_some() {
            Some(text(locale, "account.linked"))
        } else if self.unlinked.is_some() {
            Some(text(locale, "account.unlinked"))
        } else {
            None
        };
        (notice, None)
    }
}

/// The ways a user signs in, as the account page shows them.
pub(crate) struct Methods {
    password: bool,
    linked: Vec<LinkedMethod>,
    /// Enabled providers not linked yet: `(name, display name)`.
    linkable: Vec<(String, String)>,
    /// Fields a linked provider keeps up to date (read-only here), with its display name.
    owned: BTreeMap<String, String>,
}

impl Methods {
    async fn of(state: &AppState, user: &User) -> Result<Methods, accrete_store::StoreError> {
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
            linked,
            linkable,
            owned,
        })
    }

    fn editable(&self, field: &Field, user: &User) -> bool {
        editable(field, user) && !self.owned.contains_key(field.key.as_str())
    }

    fn view(&self, locale: &str) -> minijinja::Value {
        let linked: Vec<minijinja::Value> = self
            .linked
            .iter()
            .map(|m| {
                let date = super::i18n::long_date(locale, m.linked_at.date());
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
        let can_unlink = usize::from(self.password) + self.linked.len() > 1;
        context! { password => self.password, linked, linkable, can_unlink }
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
    let (user, policy, methods) = match signed_in(&state, &jar, locale).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (own, raw) = split_post(pairs);
    // Shown again after an error: what was entered in the editable fields, and the stored
    // values of the read-only ones (a write-once birthday, the accepted terms), never posted.
    let posted = |field: &Field| {
        if methods.editable(field, &user) {
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
            (&user, &methods),
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
        .filter(|f| methods.editable(f, &user))
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
                (&user, &methods),
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
            render_with_notice(
                &state,
                jar,
                locale,
                (&user, &methods),
                &policy,
                &values,
                notice,
            )
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// The signed-in user and the policy in force; otherwise the sign-in page.
async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
    locale: &str,
) -> Result<(User, Option<std::sync::Arc<CompiledPolicy>>, Methods), Response> {
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
    let methods = Methods::of(state, &user)
        .await
        .map_err(|e| store_failure(state, locale, &e))?;
    Ok((user, policy, methods))
}

fn render_with_notice(
    state: &AppState,
    jar: CookieJar,
    locale: &'static str,
    user: (&User, &Methods),
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
    user: (&User, &Methods),
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
    (user, methods): (&User, &Methods),
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
                    view.readonly = !methods.editable(field, user);
                    if let Some(provider) = methods.owned.get(field.key.as_str()) {
                        view.help = Some(
                            text(locale, "account.from_provider").replace("{provider}", provider),
                        );
                    }
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
        methods => methods.view(locale),
        alert,
        notice,
    };
    (jar, state.pages.render(status, "account.html", context)).into_response()
}
