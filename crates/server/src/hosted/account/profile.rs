//! `/account`, the profile section: the policy's fields the user may see, grouped by the
//! policy's steps in their order (fields of no step under "Other"); those the user may edit as
//! a form with the prompts' validation (changes recorded with source `account`), the others as
//! values; each value with a word on where it came from ("from your Google account").

use std::collections::{BTreeMap, BTreeSet};

use accrete_app::facts::{location_of, stored_value};
use accrete_app::fields::{ConsentRecord, form_values};
use accrete_app::hooks::validation::{self, Checked, Context, Surface};
use accrete_app::prompts::save_account_answers;
use accrete_core::{
    CompiledPolicy, Field, FieldErrors as AnswerErrors, FieldType, RawAnswers, UserAccess,
    localized, validate_answers,
};
use accrete_store::{Provenance, User};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Serialize;
use time::OffsetDateTime;

use super::super::csrf;
use super::super::errors::store_failure;
use super::super::form::{ConsentGiven, FieldView, field_view, split_post};
use super::super::i18n::{long_date, text, text_with};
use super::methods::Methods;
use super::page::{AccountPage, AccountQuery};
use crate::state::AppState;

/// `GET /account`.
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
    let user = page.user.clone();
    let values = |field: &Field| {
        stored_value(&user, field)
            .map(form_values)
            .unwrap_or_default()
    };
    render(
        &state,
        page,
        StatusCode::OK,
        &values,
        &AnswerErrors::default(),
        message,
    )
    .await
}

/// `POST /account`: saves the editable fields.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let (own, raw) = split_post(pairs);
    let return_to = raw.get("return_to").and_then(|v| v.first()).cloned();
    let page = match AccountPage::open(&state, &headers, jar, return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let user = page.user.clone();
    let (policy, methods) = match policy_and_methods(&state, &user).await {
        Ok(found) => found,
        Err(error) => return store_failure(&state, locale, &error),
    };
    let Some(policy) = policy else {
        return page.redirect("/account", "saved");
    };
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
    if !csrf::verify(&page.jar, own.get("csrf").map(String::as_str)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(
            &state,
            page,
            StatusCode::FORBIDDEN,
            &posted,
            &AnswerErrors::default(),
            (None, alert),
        )
        .await;
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
    let answers_raw: RawAnswers = raw
        .clone()
        .into_iter()
        .filter(|(k, _)| allowed.contains(k.as_str()))
        .collect();
    let answers = match validate_answers(&policy, &keys, &answers_raw, locale, now.date()) {
        Ok(answers) => answers,
        Err(errors) => {
            let alert = Some(text(locale, "error.summary"));
            return render(
                &state,
                page,
                StatusCode::BAD_REQUEST,
                &posted,
                &errors,
                (None, alert),
            )
            .await;
        }
    };
    // The validation hooks of the account page (see docs/hooks.md).
    let answers = if state.app.hooks().is_empty() {
        answers
    } else {
        let at = Context {
            user: &user,
            surface: Surface::Account,
            step: None,
            client_id: None,
            locale,
            now,
        };
        match validation::check(&state.app, &policy, at, &keys, answers).await {
            Checked::Accepted(answers) => answers,
            Checked::Refused(errors) => {
                let alert = Some(text(locale, "error.summary"));
                let status = StatusCode::BAD_REQUEST;
                return render(&state, page, status, &posted, &errors, (None, alert)).await;
            }
            Checked::Unavailable => {
                let alert = Some(text(locale, "hooks.unavailable"));
                let status = StatusCode::SERVICE_UNAVAILABLE;
                let errors = AnswerErrors::default();
                return render(&state, page, status, &posted, &errors, (None, alert)).await;
            }
        }
    };
    match save_account_answers(&state.app, &policy, &user, None, &keys, &answers, now).await {
        Ok(_) => page.redirect("/account", "saved"),
        Err(error) => store_failure(&state, locale, &error),
    }
}

type PolicyAndMethods = (Option<std::sync::Arc<CompiledPolicy>>, Methods);

async fn policy_and_methods(
    state: &AppState,
    user: &User,
) -> Result<PolicyAndMethods, accrete_store::StoreError> {
    let policy = state.app.policy().await?;
    let methods = Methods::of(state, user).await?;
    Ok((policy, methods))
}

/// A group of fields as the page shows it: a step's, or the fields of no step.
#[derive(Debug, Serialize)]
struct Group {
    title: String,
    fields: Vec<FieldView>,
    /// Where each shown value came from, by field key.
    sources: BTreeMap<String, String>,
    editable: bool,
}

/// A value's source in words ("from your Google account", "you gave this", ...).
fn source_words(locale: &str, source: &str, methods: &Methods) -> Option<String> {
    let (kind, rest) = source.split_once(':').unwrap_or((source, ""));
    let key = match kind {
        "idp" => {
            return Some(
                text(locale, "account.source.idp")
                    .replace("{provider}", &methods.provider_name(rest)),
            );
        }
        "signup" | "prompt" | "account" | "widget" => "account.source.you",
        "admin" => "account.source.admin",
        "api" => "account.source.api",
        "enrichment" => "account.source.enrichment",
        "sms" => "account.source.sms",
        _ => return None,
    };
    Some(text(locale, key))
}

/// A stored consent in the page's words, with the link to the text accepted (for a consent
/// recorded before texts had addresses, the field's text while its version is the same).
fn consent_given(locale: &str, field: &Field, record: &ConsentRecord) -> ConsentGiven {
    let key = match (record.accepted, record.at.is_some()) {
        (true, true) => "account.consent.accepted",
        (true, false) => "account.consent.accepted_undated",
        (false, true) => "account.consent.declined",
        (false, false) => "account.consent.declined_undated",
    };
    let date = record
        .at
        .map(|at| long_date(locale, at.date()))
        .unwrap_or_default();
    let summary = text_with(
        locale,
        key,
        &[("date", &date), ("version", &record.version)],
    );
    let same_version = field.consent_version.as_deref() == Some(record.version.as_str());
    let url = record
        .url
        .clone()
        .or_else(|| field.consent_url.clone().filter(|_| same_version));
    ConsentGiven { summary, url }
}

async fn render(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    values: &(dyn Fn(&Field) -> Vec<String> + Sync),
    errors: &AnswerErrors,
    message: (Option<String>, Option<String>),
) -> Response {
    let locale = page.locale;
    let user = &page.user;
    let (policy, methods) = match policy_and_methods(state, user).await {
        Ok(found) => found,
        Err(error) => return store_failure(state, locale, &error),
    };
    let provenance: Vec<Provenance> = match state.store.value_provenance(user.id).await {
        Ok(found) => found,
        Err(error) => return store_failure(state, locale, &error),
    };
    let groups = policy
        .as_deref()
        .map(|policy| groups(policy, user, &methods, &provenance, locale, values, errors))
        .unwrap_or_default();
    let editable = groups.iter().any(|g| g.editable);
    // A number that is not verified yet: the page offers to verify it (/account/phone).
    let phone_to_verify = accrete_app::phone::stored_number(user)
        .filter(|_| accrete_app::phone::verified_number(user).is_none())
        .map(|number| {
            context! {
                text => super::super::i18n::text_with(locale, "phone.to_verify", &[("number", number)]),
                href => page.link("/account/phone", ""),
            }
        });
    let extra = context! { groups, editable, phone_to_verify };
    page.render(state, status, "profile", "account.html", message, extra)
}

fn groups(
    policy: &CompiledPolicy,
    user: &User,
    methods: &Methods,
    provenance: &[Provenance],
    locale: &str,
    values: &(dyn Fn(&Field) -> Vec<String> + Sync),
    errors: &AnswerErrors,
) -> Vec<Group> {
    let view = |field: &Field| {
        let error = errors
            .get(field.key.as_str())
            .first()
            .map(|e| e.message.clone());
        let mut view = field_view(policy, field, locale, &values(field), error);
        view.readonly = !methods.editable(field, user);
        view.consent = stored_value(user, field)
            .filter(|_| field.kind == FieldType::Consent)
            .and_then(ConsentRecord::of)
            .map(|record| consent_given(locale, field, &record));
        view
    };
    let source = |field: &Field| {
        let (location, key) = location_of(field);
        provenance
            .iter()
            .find(|p| p.location == location && p.key == key)
            .and_then(|p| source_words(locale, &p.source, methods))
    };
    let group = |title: String, fields: Vec<&Field>| {
        let mut views = Vec::new();
        let mut sources = BTreeMap::new();
        for field in fields {
            if field.user_access == UserAccess::None {
                continue;
            }
            let shown = view(field);
            if shown.readonly && shown.values.is_empty() {
                continue;
            }
            if !shown.values.is_empty()
                && let Some(words) = source(field)
            {
                sources.insert(field.key.as_str().to_owned(), words);
            }
            views.push(shown);
        }
        let editable = views.iter().any(|v| !v.readonly);
        Group {
            title,
            fields: views,
            sources,
            editable,
        }
    };
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut groups = Vec::new();
    for step in policy.steps() {
        let fields: Vec<&Field> = step
            .fields
            .iter()
            .filter(|key| placed.insert(key.as_str()))
            .filter_map(|key| policy.field(key.as_str()))
            .collect();
        let title = localized(&step.title, locale, "en")
            .map(str::to_owned)
            .unwrap_or_else(|| step.id.as_str().to_owned());
        groups.push(group(title, fields));
    }
    let rest: Vec<&Field> = policy
        .fields()
        .iter()
        .filter(|f| !placed.contains(f.key.as_str()))
        .collect();
    groups.push(group(text(locale, "account.other_fields"), rest));
    groups.retain(|g| !g.fields.is_empty());
    groups
}
