//! The checks `Policy::compile` runs on a document, each problem reported with its location.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::answers::country::is_country_code;
use crate::dates::DateBound;
use crate::field::{Field, FieldType, Limit, STANDARD_CLAIMS, Storage};
use crate::ids::{FieldKey, StepId};
use crate::policy::{POLICY_VERSION, Policy};
use crate::problems::{Problems, did_you_mean};
use crate::step::{AfterLastSkip, Step, StepMode, TriggerMoment};
use crate::web_url::WebUrl;

/// Longest value of a text-like field, in characters (also the default `max_length`).
pub const MAX_TEXT_CHARS: u32 = 4096;
/// Longest `consent_url`, in bytes.
const MAX_CONSENT_URL_BYTES: usize = 2048;

#[expect(clippy::expect_used, reason = "literal patterns, covered by tests")]
static SNAKE_CASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-z][a-z0-9_]{0,63}$").expect("valid literal regex"));
#[expect(clippy::expect_used, reason = "literal patterns, covered by tests")]
static LOCALE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$").expect("valid literal regex")
});
#[expect(clippy::expect_used, reason = "literal patterns, covered by tests")]
static EVENT_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$").expect("valid literal regex")
});
#[expect(clippy::expect_used, reason = "literal patterns, covered by tests")]
static TOKEN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$").expect("valid literal regex")
});

/// Claims a custom `claim` may not take over.
const RESERVED_CLAIMS: [&str; 16] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "auth_time",
    "azp",
    "acr",
    "amr",
    "at_hash",
    "c_hash",
    "sid",
    "email",
];

pub(crate) fn check_document(policy: &Policy, problems: &mut Problems) {
    if policy.version != POLICY_VERSION {
        problems.push(
            "version",
            format!(
                "unsupported version {}; this engine reads version {POLICY_VERSION}",
                policy.version
            ),
        );
    }
    let settings = &policy.settings;
    if !LOCALE.is_match(&settings.default_locale) {
        problems.push(
            "settings.default_locale",
            format!(
                "{:?} is not a locale such as \"en\" or \"fr-CA\"",
                settings.default_locale
            ),
        );
    }
    if let Some(region) = &settings.phone_default_region
        && phonenumber::country::Id::from_str(region).is_err()
    {
        problems.push(
            "settings.phone_default_region",
            format!("{region:?} is not a country code such as \"FR\" or \"US\""),
        );
    }
}

fn check_localized(
    map: &std::collections::BTreeMap<String, String>,
    path: &str,
    default_locale: &str,
    need_default: bool,
    problems: &mut Problems,
) {
    if need_default && !map.contains_key(default_locale) {
        problems.push(
            path,
            format!("no text in the default locale \"{default_locale}\""),
        );
    }
    for locale in map.keys() {
        if !LOCALE.is_match(locale) {
            problems.push(
                format!("{path}.{locale}"),
                "not a locale such as \"en\" or \"fr-CA\"",
            );
        }
    }
}

/// Checks every field; returns the index of the valid keys (first definition wins).
pub(crate) fn check_fields(policy: &Policy, problems: &mut Problems) -> HashMap<FieldKey, usize> {
    let mut index = HashMap::new();
    let mut claims: HashMap<&str, usize> = HashMap::new();
    let locale = policy.settings.default_locale.as_str();
    for (i, field) in policy.fields.iter().enumerate() {
        let path = format!("fields[{i}]");
        if !SNAKE_CASE.is_match(&field.key) {
            problems.push(
                format!("{path}.key"),
                format!(
                    "{:?} is not a snake_case key (a-z, 0-9, _; at most 64 characters)",
                    field.key.as_str()
                ),
            );
        }
        if let Some(first) = index.get(&field.key) {
            problems.push(
                format!("{path}.key"),
                format!(
                    "duplicate key \"{}\" (first defined at fields[{first}])",
                    field.key
                ),
            );
        } else {
            index.insert(field.key.clone(), i);
        }
        check_localized(
            &field.labels,
            &format!("{path}.labels"),
            locale,
            true,
            problems,
        );
        check_localized(
            &field.help,
            &format!("{path}.help"),
            locale,
            false,
            problems,
        );
        check_localized(
            &field.placeholder,
            &format!("{path}.placeholder"),
            locale,
            false,
            problems,
        );
        check_options(field, &path, problems);
        check_validation(field, &path, locale, problems);
        check_storage(field, i, &path, &mut claims, problems);
        check_behaviour(field, &path, problems);
    }
    index
}

fn check_options(field: &Field, path: &str, problems: &mut Problems) {
    let kind = field.kind;
    if matches!(kind, FieldType::Select | FieldType::Multiselect) && field.options.is_empty() {
        problems.push(
            format!("{path}.options"),
            format!("a {} field needs options", kind.name()),
        );
    }
    if !kind.uses_options() && !field.options.is_empty() {
        problems.push(
            format!("{path}.options"),
            format!("a {} field takes no options", kind.name()),
        );
    }
    let mut seen = HashMap::new();
    for (j, option) in field.options.iter().enumerate() {
        let option_path = format!("{path}.options[{j}].value");
        if option.value.trim().is_empty() || option.value.len() > 256 {
            problems.push(
                &option_path,
                "an option value must have 1 to 256 characters",
            );
        }
        if kind == FieldType::Country && !is_country_code(&option.value) {
            problems.push(
                &option_path,
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 country code",
                    option.value
                ),
            );
        }
        if let Some(first) = seen.insert(option.value.as_str(), j) {
            problems.push(
                &option_path,
                format!(
                    "duplicate option {:?} (first at options[{first}])",
                    option.value
                ),
            );
        }
    }
}

fn check_validation(field: &Field, path: &str, locale: &str, problems: &mut Problems) {
    let rules = &field.validation;
    let kind = field.kind;
    let path = format!("{path}.validation");
    let textual = kind.is_textual();
    for (name, value) in [
        ("min_length", rules.min_length),
        ("max_length", rules.max_length),
    ] {
        if value.is_some() && !textual {
            problems.push(
                format!("{path}.{name}"),
                format!("a {} field has no length limits", kind.name()),
            );
        }
        if value.is_some_and(|n| n > MAX_TEXT_CHARS) {
            problems.push(
                format!("{path}.{name}"),
                format!("at most {MAX_TEXT_CHARS} characters"),
            );
        }
    }
    if let (Some(low), Some(high)) = (rules.min_length, rules.max_length)
        && low > high
    {
        problems.push(
            format!("{path}.min_length"),
            format!("min_length {low} is above max_length {high}"),
        );
    }
    if rules.pattern.is_some() && !textual {
        problems.push(
            format!("{path}.pattern"),
            format!("a {} field takes no pattern", kind.name()),
        );
    }
    if rules.pattern.is_none() && !rules.pattern_message.is_empty() {
        problems.push(
            format!("{path}.pattern_message"),
            "a pattern message without a pattern",
        );
    }
    if rules.pattern.is_some() {
        check_localized(
            &rules.pattern_message,
            &format!("{path}.pattern_message"),
            locale,
            false,
            problems,
        );
    }
    for (name, limit) in [("min", &rules.min), ("max", &rules.max)] {
        let Some(limit) = limit else { continue };
        let fits = matches!(
            (kind, limit),
            (FieldType::Date, Limit::Date(_))
                | (
                    FieldType::Integer | FieldType::Number | FieldType::Multiselect,
                    Limit::Number(_)
                )
        );
        if !fits {
            let expected = match kind {
                FieldType::Date => {
                    "a date bound written \"YYYY-MM-DD\", \"today\" or \"-18y\"".to_owned()
                }
                k if k.has_bounds() => "a numeric bound".to_owned(),
                k => format!("no bound: a {} field has no minimum or maximum", k.name()),
            };
            problems.push(format!("{path}.{name}"), format!("expected {expected}"));
        }
    }
    match (&rules.min, &rules.max) {
        (Some(Limit::Number(low)), Some(Limit::Number(high))) if low > high => {
            problems.push(
                format!("{path}.min"),
                format!("min {low} is above max {high}"),
            );
        }
        (Some(Limit::Date(low)), Some(Limit::Date(high))) => {
            // Fixed dates compare; so do two distances in the same unit (their order is the
            // same every day). Mixed bounds cross at some date, the administrator's to choose.
            let comparable = match (DateBound::parse(low), DateBound::parse(high)) {
                (Some(DateBound::Fixed(a)), Some(DateBound::Fixed(b))) => Some(a > b),
                (
                    Some(DateBound::Relative {
                        months: m1,
                        days: d1,
                    }),
                    Some(DateBound::Relative {
                        months: m2,
                        days: d2,
                    }),
                ) if (m1 == 0 && m2 == 0) || (d1 == 0 && d2 == 0) => Some((m1, d1) > (m2, d2)),
                _ => None,
            };
            if comparable == Some(true) {
                problems.push(
                    format!("{path}.min"),
                    format!("min {low} is after max {high}"),
                );
            }
        }
        _ => {}
    }
}

fn check_storage<'a>(
    field: &'a Field,
    i: usize,
    path: &str,
    claims: &mut HashMap<&'a str, usize>,
    problems: &mut Problems,
) {
    if let Storage::Profile { claim } = &field.storage {
        let claim_path = format!("{path}.storage.profile.claim");
        match STANDARD_CLAIMS.iter().find(|(name, _)| name == claim) {
            None => problems.push(
                &claim_path,
                format!(
                    "\"{claim}\" is not a standard profile claim{}",
                    did_you_mean(claim, STANDARD_CLAIMS.iter().map(|(name, _)| *name))
                ),
            ),
            Some((_, Some(kind))) if *kind != field.kind => problems.push(
                &claim_path,
                format!(
                    "the \"{claim}\" claim needs a {} field, not {}",
                    kind.name(),
                    field.kind.name()
                ),
            ),
            Some((_, None))
                if !matches!(
                    field.kind,
                    FieldType::Text | FieldType::Textarea | FieldType::Select
                ) =>
            {
                problems.push(
                    &claim_path,
                    format!(
                        "the \"{claim}\" claim holds text, not a {} value",
                        field.kind.name()
                    ),
                );
            }
            _ => {}
        }
        if let Some(first) = claims.insert(claim.as_str(), i) {
            problems.push(
                &claim_path,
                format!("claim \"{claim}\" is already stored by fields[{first}]"),
            );
        }
    }
}

/// A consent text's address: an `https://` URL (`http://` on localhost, for trying a policy
/// out), as browsers are sent to it from the pages.
fn check_consent_url(field: &Field, path: &str, problems: &mut Problems) {
    let Some(url) = &field.consent_url else {
        return;
    };
    let at = format!("{path}.consent_url");
    if field.kind != FieldType::Consent {
        problems.push(at, "only consent fields have the address of a consent text");
    } else if url.len() > MAX_CONSENT_URL_BYTES {
        problems.push(at, format!("must be at most {MAX_CONSENT_URL_BYTES} bytes"));
    } else if !WebUrl::parse(url).is_some_and(|web| web.scheme == "https" || web.is_localhost()) {
        problems.push(
            at,
            format!("{url:?} is not an https:// address of the text (http:// only on localhost)"),
        );
    }
}

fn check_behaviour(field: &Field, path: &str, problems: &mut Problems) {
    match (field.kind, &field.consent_version) {
        (FieldType::Consent, None) => problems.push(
            format!("{path}.consent_version"),
            "a consent field needs the version of the text being accepted",
        ),
        (FieldType::Consent, Some(version)) if version.trim().is_empty() || version.len() > 64 => {
            problems.push(
                format!("{path}.consent_version"),
                "must have 1 to 64 characters",
            );
        }
        (kind, Some(_)) if kind != FieldType::Consent => problems.push(
            format!("{path}.consent_version"),
            "only consent fields have a consent version",
        ),
        _ => {}
    }
    check_consent_url(field, path, problems);
    if field.verify
        && (field.kind != FieldType::Phone
            || field.storage
                != (Storage::Profile {
                    claim: "phone_number".to_owned(),
                }))
    {
        problems.push(
            format!("{path}.verify"),
            "only a phone field stored as the phone_number claim can be verified \
             (storage = { profile = \"phone_number\" })",
        );
    }
    if field.write_once && field.reconfirm_after.is_some() {
        problems.push(
            format!("{path}.reconfirm_after"),
            "a write-once field cannot be re-confirmed",
        );
    }
    if let Some(problem) = field.reconfirm_after.and_then(|d| d.too_long()) {
        problems.push(format!("{path}.reconfirm_after"), problem);
    }
    if field.reconfirm_after.is_some_and(|d| d.as_std().is_zero()) {
        problems.push(
            format!("{path}.reconfirm_after"),
            "must be longer than zero",
        );
    }
    if let Some(scope) = &field.scope
        && (!TOKEN_NAME.is_match(scope) || scope == "openid")
    {
        problems.push(
            format!("{path}.scope"),
            format!("{scope:?} is not a usable scope name"),
        );
    }
    if let Some(claim) = &field.claim {
        if !TOKEN_NAME.is_match(claim) {
            problems.push(
                format!("{path}.claim"),
                format!("{claim:?} is not a usable claim name"),
            );
        } else if RESERVED_CLAIMS.contains(&claim.as_str()) {
            problems.push(
                format!("{path}.claim"),
                format!("\"{claim}\" is reserved by OpenID Connect"),
            );
        }
    }
}

/// Checks every step; returns the index of the valid ids (first definition wins).
pub(crate) fn check_steps(
    policy: &Policy,
    fields: &HashMap<FieldKey, usize>,
    problems: &mut Problems,
) -> HashMap<StepId, usize> {
    let mut index = HashMap::new();
    let locale = policy.settings.default_locale.as_str();
    for (i, step) in policy.steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        if !SNAKE_CASE.is_match(&step.id) {
            problems.push(
                format!("{path}.id"),
                format!("{:?} is not a snake_case id", step.id.as_str()),
            );
        }
        if let Some(first) = index.get(&step.id) {
            problems.push(
                format!("{path}.id"),
                format!(
                    "duplicate step id \"{}\" (first at steps[{first}])",
                    step.id
                ),
            );
        } else {
            index.insert(step.id.clone(), i);
        }
        // A second_factor step has the pages' own title ("Protect your account") unless given.
        check_localized(
            &step.title,
            &format!("{path}.title"),
            locale,
            !step.second_factor,
            problems,
        );
        check_step_fields(step, &path, policy, fields, problems);
        check_mode(step, &path, problems);
        check_trigger(step, &path, problems);
    }
    index
}

fn check_step_fields(
    step: &Step,
    path: &str,
    policy: &Policy,
    fields: &HashMap<FieldKey, usize>,
    problems: &mut Problems,
) {
    if step.second_factor {
        if !step.fields.is_empty() {
            problems.push(
                format!("{path}.fields"),
                "a second_factor step asks for a second factor only: list no fields",
            );
        }
        if step.presentation != crate::step::Presentation::AllAtOnce {
            problems.push(
                format!("{path}.presentation"),
                "a second_factor step has one page: leave presentation out",
            );
        }
    } else if step.fields.is_empty() {
        problems.push(
            format!("{path}.fields"),
            "a step needs at least one field (or second_factor = true)",
        );
    }
    for (j, key) in step.fields.iter().enumerate() {
        let field_path = format!("{path}.fields[{j}]");
        if !fields.contains_key(key.as_str()) {
            let hint = did_you_mean(key, policy.fields.iter().map(|f| f.key.as_str()));
            problems.push(&field_path, format!("unknown field \"{key}\"{hint}"));
        }
        if step.fields[..j].contains(key) {
            problems.push(&field_path, format!("field \"{key}\" is listed twice"));
        }
    }
}

fn check_mode(step: &Step, path: &str, problems: &mut Problems) {
    let StepMode::Optional { skip } = &step.mode else {
        return;
    };
    let path = format!("{path}.mode.optional");
    if skip.max_skips == Some(0) {
        problems.push(
            format!("{path}.max_skips"),
            "0 skips allowed: make the step required instead",
        );
    }
    if let Some(problem) = skip.reask_after.and_then(|d| d.too_long()) {
        problems.push(format!("{path}.reask_after"), problem);
    }
    if skip.after_last_skip == AfterLastSkip::Require && skip.max_skips.is_none() {
        problems.push(
            format!("{path}.after_last_skip"),
            "`require` needs `max_skips`, otherwise the last skip never comes",
        );
    }
}

fn check_trigger(step: &Step, path: &str, problems: &mut Problems) {
    let trigger = &step.trigger;
    let path = format!("{path}.trigger");
    if trigger.moments.is_empty() {
        problems.push(
            format!("{path}.moments"),
            "no moment listed: the step is never asked",
        );
    }
    for (j, moment) in trigger.moments.iter().enumerate() {
        if trigger.moments[..j].contains(moment) {
            problems.push(
                format!("{path}.moments[{j}]"),
                format!("moment \"{}\" is listed twice", moment.name()),
            );
        }
    }
    let on_event = trigger.moments.contains(&TriggerMoment::Event);
    if on_event && trigger.events.is_empty() {
        problems.push(
            format!("{path}.events"),
            "the `event` moment needs the event names that trigger the step",
        );
    }
    if !on_event && !trigger.events.is_empty() {
        problems.push(
            format!("{path}.events"),
            "events are listed but `event` is not among the moments",
        );
    }
    for (j, event) in trigger.events.iter().enumerate() {
        if !EVENT_NAME.is_match(event) {
            problems.push(
                format!("{path}.events[{j}]"),
                format!("{event:?} is not an event name such as \"cta:pricing\""),
            );
        }
    }
}

pub(crate) fn check_required_fields_are_asked(policy: &Policy, problems: &mut Problems) {
    for (i, field) in policy.fields.iter().enumerate() {
        let asked = policy
            .steps
            .iter()
            .any(|step| !step.trigger.moments.is_empty() && step.fields.contains(&field.key));
        if field.required && !asked {
            problems.push(
                format!("fields[{i}]"),
                format!(
                    "required field \"{}\" is not asked by any step; add it to a step or set \
                     `required = false`",
                    field.key
                ),
            );
        }
    }
}
