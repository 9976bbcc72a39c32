//! The policy's field and step forms as HTTP reads them: the submitted pairs into a `Field` or
//! a `Step` (starting from the one edited, so that what the form does not show is kept), each
//! unreadable input with its own message; a field or step back into the form's values; and a
//! problem of the document (`validation.min`, `trigger.condition.all[1].expression.cel`)
//! placed on the input it concerns. The rules themselves are the policy compiler's.

use std::collections::BTreeMap;
use std::str::FromStr;

use accrete_core::{
    AfterLastSkip, Condition, Field, FieldKey, FieldOption, FieldType, HumanDuration, Limit,
    LoginCount, Presentation, SkipPolicy, Step, StepId, StepMode, Storage, Trigger, TriggerMoment,
    UserAccess,
};
use minijinja::{Value, context};

use crate::hosted::i18n::text;

/// The locales the forms offer for labels and help (others in a document are kept).
pub(super) const LOCALES: [&str; 2] = ["en", "fr"];

/// A submitted form: its pairs in order (checkboxes repeat their name).
pub(super) struct Pairs(Vec<(String, String)>);

impl Pairs {
    pub(super) fn parse(body: &[u8]) -> Pairs {
        Pairs(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed ("" when absent).
    pub(super) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Every non-empty value of `name`.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// Messages per input name.
pub(super) type Errors = BTreeMap<String, String>;

fn number<T: FromStr>(pairs: &Pairs, name: &str, locale: &str, errors: &mut Errors) -> Option<T> {
    let raw = pairs.get(name);
    if raw.is_empty() {
        return None;
    }
    match raw.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.insert(name.to_owned(), text(locale, "console.policy.whole_number"));
            None
        }
    }
}

fn duration(pairs: &Pairs, name: &str, errors: &mut Errors) -> Option<HumanDuration> {
    let raw = pairs.get(name);
    if raw.is_empty() {
        return None;
    }
    match HumanDuration::from_str(raw) {
        Ok(d) => Some(d),
        Err(error) => {
            errors.insert(name.to_owned(), error.to_string());
            None
        }
    }
}

/// Sets `map[locale]` for the form's locales from `<prefix>.<locale>`, keeping other locales.
fn localized(pairs: &Pairs, prefix: &str, map: &mut BTreeMap<String, String>) {
    for locale in LOCALES {
        match pairs.optional(&format!("{prefix}.{locale}")) {
            Some(value) => map.insert(locale.to_owned(), value),
            None => map.remove(locale),
        };
    }
}

fn limit(raw: &str) -> Option<Limit> {
    if raw.is_empty() {
        None
    } else {
        Some(match raw.parse::<f64>() {
            Ok(n) if n.is_finite() => Limit::Number(n),
            _ => Limit::Date(raw.to_owned()),
        })
    }
}

fn limit_text(limit: &Option<Limit>) -> String {
    match limit {
        Some(Limit::Number(n)) => n.to_string(),
        Some(Limit::Date(d)) => d.clone(),
        None => String::new(),
    }
}

fn list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The field the form describes, from `base` (the field edited, or a new one).
pub(super) fn read_field(pairs: &Pairs, base: Option<Field>, locale: &str) -> (Field, Errors) {
    let mut errors = Errors::new();
    let kind = FieldType::ALL
        .into_iter()
        .find(|k| k.name() == pairs.get("kind"))
        .unwrap_or_else(|| {
            errors.insert("kind".into(), text(locale, "console.policy.pick_kind"));
            FieldType::Text
        });
    let mut field = base.unwrap_or_else(|| Field::new(pairs.get("key"), kind));
    field.key = FieldKey::new(pairs.get("key"));
    field.kind = kind;
    field.required = pairs.checked("required");
    localized(pairs, "labels", &mut field.labels);
    localized(pairs, "help", &mut field.help);
    localized(pairs, "placeholder", &mut field.placeholder);
    // One option a line: `value | English label | French label`.
    let old_options = std::mem::take(&mut field.options);
    for line in pairs.get("options").lines() {
        let mut parts = line.split('|').map(str::trim);
        let value = parts.next().unwrap_or("");
        if value.is_empty() {
            continue;
        }
        let mut labels = old_options
            .iter()
            .find(|o| o.value == value)
            .map(|o| o.labels.clone())
            .unwrap_or_default();
        for locale in LOCALES {
            match parts.next().filter(|l| !l.is_empty()) {
                Some(label) => labels.insert(locale.to_owned(), label.to_owned()),
                None => labels.remove(locale),
            };
        }
        field.options.push(FieldOption {
            value: value.to_owned(),
            labels,
        });
    }
    let v = &mut field.validation;
    v.min_length = number(pairs, "validation.min_length", locale, &mut errors);
    v.max_length = number(pairs, "validation.max_length", locale, &mut errors);
    v.min = limit(pairs.get("validation.min"));
    v.max = limit(pairs.get("validation.max"));
    v.pattern = pairs.optional("validation.pattern");
    localized(pairs, "validation.pattern_message", &mut v.pattern_message);
    field.storage = match pairs.get("storage") {
        "app_metadata" => Storage::AppMetadata,
        "profile" => Storage::Profile {
            claim: pairs.get("storage.claim").to_owned(),
        },
        _ => Storage::UserMetadata,
    };
    field.user_access = match pairs.get("user_access") {
        "read" => UserAccess::Read,
        "none" => UserAccess::None,
        _ => UserAccess::Edit,
    };
    field.write_once = pairs.checked("write_once");
    field.verify = pairs.checked("verify");
    field.reconfirm_after = duration(pairs, "reconfirm_after", &mut errors);
    field.scope = pairs.optional("scope");
    field.claim = pairs.optional("claim");
    field.consent_version = pairs.optional("consent_version");
    field.consent_url = pairs.optional("consent_url");
    (field, errors)
}

fn localized_values(
    prefix: &str,
    map: &BTreeMap<String, String>,
    out: &mut BTreeMap<String, String>,
) {
    for locale in LOCALES {
        out.insert(
            format!("{prefix}.{locale}"),
            map.get(locale).cloned().unwrap_or_default(),
        );
    }
}

/// The form's values for `field` (by input name).
pub(super) fn field_values(field: &Field) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("key".into(), field.key.to_string());
    out.insert("kind".into(), field.kind.name().into());
    out.insert("required".into(), flag(field.required));
    localized_values("labels", &field.labels, &mut out);
    localized_values("help", &field.help, &mut out);
    localized_values("placeholder", &field.placeholder, &mut out);
    let options: Vec<String> = field
        .options
        .iter()
        .map(|o| {
            let mut line = o.value.clone();
            let labels: Vec<&str> = LOCALES
                .iter()
                .map(|l| o.labels.get(*l).map(String::as_str).unwrap_or(""))
                .collect();
            if labels.iter().any(|l| !l.is_empty()) {
                line = format!("{line} | {}", labels.join(" | "));
            }
            line.trim_end_matches([' ', '|']).to_owned()
        })
        .collect();
    out.insert("options".into(), options.join("\n"));
    let v = &field.validation;
    let opt = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    out.insert("validation.min_length".into(), opt(v.min_length));
    out.insert("validation.max_length".into(), opt(v.max_length));
    out.insert("validation.min".into(), limit_text(&v.min));
    out.insert("validation.max".into(), limit_text(&v.max));
    out.insert(
        "validation.pattern".into(),
        v.pattern.clone().unwrap_or_default(),
    );
    localized_values("validation.pattern_message", &v.pattern_message, &mut out);
    let (storage, claim) = match &field.storage {
        Storage::Profile { claim } => ("profile", claim.clone()),
        Storage::AppMetadata => ("app_metadata", String::new()),
        Storage::UserMetadata => ("user_metadata", String::new()),
    };
    out.insert("storage".into(), storage.into());
    out.insert("storage.claim".into(), claim);
    let access = match field.user_access {
        UserAccess::Edit => "edit",
        UserAccess::Read => "read",
        UserAccess::None => "none",
    };
    out.insert("user_access".into(), access.into());
    out.insert("write_once".into(), flag(field.write_once));
    out.insert("verify".into(), flag(field.verify));
    out.insert(
        "reconfirm_after".into(),
        field
            .reconfirm_after
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    for (name, value) in [
        ("scope", &field.scope),
        ("claim", &field.claim),
        ("consent_version", &field.consent_version),
        ("consent_url", &field.consent_url),
    ] {
        out.insert(name.into(), value.clone().unwrap_or_default());
    }
    out
}

fn flag(on: bool) -> String {
    if on { "on".into() } else { String::new() }
}

/// The condition's parts the step form edits, in the order they are combined (`all`).
#[derive(Debug, Default, Clone)]
pub(super) struct Parts {
    clients: Vec<String>,
    login_count: Option<LoginCount>,
    scopes: Vec<String>,
    since: (Option<HumanDuration>, Option<HumanDuration>),
    expression: Option<String>,
}

impl Parts {
    /// The form's parts of a condition, or `None` when the form cannot show it (`any`, `not`,
    /// a kind twice, nested `all`): such a condition is kept as it is, edited in the source.
    pub(super) fn of(condition: Option<&Condition>) -> Option<Parts> {
        let mut parts = Parts::default();
        let items: &[Condition] = match condition {
            None => return Some(parts),
            Some(Condition::All(items)) => items,
            Some(one) => std::slice::from_ref(one),
        };
        for item in items {
            match item {
                Condition::Client { ids } if parts.clients.is_empty() && !ids.is_empty() => {
                    parts.clients = ids.clone()
                }
                Condition::LoginCount(count) if parts.login_count.is_none() => {
                    parts.login_count = Some(*count)
                }
                Condition::Scopes { any_of, all_of }
                    if parts.scopes.is_empty() && all_of.is_empty() && !any_of.is_empty() =>
                {
                    parts.scopes = any_of.clone()
                }
                Condition::SinceSignup { at_least, at_most }
                    if parts.since == (None, None) && (at_least.is_some() || at_most.is_some()) =>
                {
                    parts.since = (*at_least, *at_most)
                }
                Condition::Expression { cel } if parts.expression.is_none() => {
                    parts.expression = Some(cel.clone())
                }
                _ => return None,
            }
        }
        Some(parts)
    }

    /// The parts as a condition, and the input each item of `all` came from.
    fn condition(&self) -> (Option<Condition>, Vec<&'static str>) {
        let mut items = Vec::new();
        let mut inputs = Vec::new();
        if !self.clients.is_empty() {
            items.push(Condition::Client {
                ids: self.clients.clone(),
            });
            inputs.push("when.clients");
        }
        if let Some(count) = self.login_count {
            items.push(Condition::LoginCount(count));
            inputs.push("when.login_count");
        }
        if !self.scopes.is_empty() {
            items.push(Condition::Scopes {
                any_of: self.scopes.clone(),
                all_of: Vec::new(),
            });
            inputs.push("when.scopes");
        }
        if self.since != (None, None) {
            items.push(Condition::SinceSignup {
                at_least: self.since.0,
                at_most: self.since.1,
            });
            inputs.push("when.since_at_least");
        }
        if let Some(cel) = &self.expression {
            items.push(Condition::Expression { cel: cel.clone() });
            inputs.push("when.expression");
        }
        let condition = match items.len() {
            0 => None,
            1 => items.pop(),
            _ => Some(Condition::All(items)),
        };
        (condition, inputs)
    }
}

/// The step the form describes, from `base` (the step edited, or a new one); with the inputs
/// the condition's items came from (empty when the condition was kept as it was).
pub(super) fn read_step(
    pairs: &Pairs,
    base: Option<Step>,
    locale: &str,
) -> (Step, Vec<&'static str>, Errors) {
    let mut errors = Errors::new();
    let keep = base.as_ref().and_then(|s| s.trigger.condition.clone());
    let advanced = base.is_some() && Parts::of(keep.as_ref()).is_none();
    let mut step = base.unwrap_or_else(|| Step {
        id: StepId::new(""),
        title: BTreeMap::new(),
        fields: Vec::new(),
        second_factor: false,
        priority: 0,
        presentation: Presentation::AllAtOnce,
        mode: StepMode::Required,
        trigger: Trigger {
            moments: Vec::new(),
            events: Vec::new(),
            condition: None,
        },
    });
    step.id = StepId::new(pairs.get("id"));
    localized(pairs, "title", &mut step.title);
    // The fields checked, those already in the step first in their order.
    let checked = pairs.all("fields");
    let mut fields: Vec<FieldKey> = step
        .fields
        .iter()
        .filter(|f| checked.contains(&f.as_str()))
        .cloned()
        .collect();
    for key in checked {
        if !fields.iter().any(|f| f.as_str() == key) {
            fields.push(FieldKey::new(key));
        }
    }
    step.fields = fields;
    step.second_factor = pairs.checked("second_factor");
    step.priority = number(pairs, "priority", locale, &mut errors).unwrap_or(0);
    step.presentation = match pairs.get("presentation") {
        "one_at_a_time" => Presentation::OneAtATime,
        _ => Presentation::AllAtOnce,
    };
    step.mode = match pairs.get("mode") {
        "optional" => StepMode::Optional {
            skip: SkipPolicy {
                max_skips: number(pairs, "skip.max_skips", locale, &mut errors),
                reask_after_logins: number(pairs, "skip.reask_after_logins", locale, &mut errors),
                reask_after: duration(pairs, "skip.reask_after", &mut errors),
                after_last_skip: match pairs.get("skip.after_last_skip") {
                    "require" => AfterLastSkip::Require,
                    _ => AfterLastSkip::Stop,
                },
            },
        },
        _ => StepMode::Required,
    };
    step.trigger.moments = ["signup", "login", "event"]
        .into_iter()
        .zip([
            TriggerMoment::Signup,
            TriggerMoment::Login,
            TriggerMoment::Event,
        ])
        .filter(|(name, _)| pairs.all("moments").contains(name))
        .map(|(_, m)| m)
        .collect();
    step.trigger.events = list(pairs.get("events"));
    let inputs = if advanced {
        Vec::new()
    } else {
        let count_n: Option<u64> = number(pairs, "when.login_count_n", locale, &mut errors);
        let login_count = match (pairs.get("when.login_count"), count_n) {
            ("exactly", Some(n)) => Some(LoginCount::Exactly(n)),
            ("at_least", Some(n)) => Some(LoginCount::AtLeast(n)),
            ("every", Some(n)) => Some(LoginCount::Every(n)),
            ("exactly" | "at_least" | "every", None) => {
                errors
                    .entry("when.login_count_n".into())
                    .or_insert_with(|| text(locale, "console.policy.whole_number"));
                None
            }
            _ => None,
        };
        let parts = Parts {
            clients: pairs
                .all("when.clients")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            login_count,
            scopes: list(pairs.get("when.scopes")),
            since: (
                duration(pairs, "when.since_at_least", &mut errors),
                duration(pairs, "when.since_at_most", &mut errors),
            ),
            expression: pairs.optional("when.expression"),
        };
        let (condition, inputs) = parts.condition();
        step.trigger.condition = condition;
        inputs
    };
    (step, inputs, errors)
}

/// The form's values for `step` (by input name; checkbox lists as several values joined by
/// newlines), and whether its condition is beyond the form.
pub(super) fn step_values(step: &Step) -> (BTreeMap<String, String>, bool) {
    let mut out = BTreeMap::new();
    out.insert("id".into(), step.id.to_string());
    localized_values("title", &step.title, &mut out);
    let keys: Vec<&str> = step.fields.iter().map(|f| f.as_str()).collect();
    out.insert("fields".into(), keys.join("\n"));
    out.insert("second_factor".into(), flag(step.second_factor));
    out.insert("priority".into(), step.priority.to_string());
    let presentation = match step.presentation {
        Presentation::AllAtOnce => "all_at_once",
        Presentation::OneAtATime => "one_at_a_time",
    };
    out.insert("presentation".into(), presentation.into());
    match &step.mode {
        StepMode::Required => {
            out.insert("mode".into(), "required".into());
        }
        StepMode::Optional { skip } => {
            out.insert("mode".into(), "optional".into());
            let opt = |n: Option<String>| n.unwrap_or_default();
            out.insert(
                "skip.max_skips".into(),
                opt(skip.max_skips.map(|n| n.to_string())),
            );
            out.insert(
                "skip.reask_after_logins".into(),
                opt(skip.reask_after_logins.map(|n| n.to_string())),
            );
            out.insert(
                "skip.reask_after".into(),
                opt(skip.reask_after.as_ref().map(ToString::to_string)),
            );
            let after = match skip.after_last_skip {
                AfterLastSkip::Stop => "stop",
                AfterLastSkip::Require => "require",
            };
            out.insert("skip.after_last_skip".into(), after.into());
        }
    }
    let moments: Vec<&str> = step.trigger.moments.iter().map(|m| m.name()).collect();
    out.insert("moments".into(), moments.join("\n"));
    out.insert("events".into(), step.trigger.events.join(", "));
    let parts = Parts::of(step.trigger.condition.as_ref());
    if let Some(parts) = &parts {
        out.insert("when.clients".into(), parts.clients.join("\n"));
        let (kind, n) = match parts.login_count {
            Some(LoginCount::Exactly(n)) => ("exactly", n.to_string()),
            Some(LoginCount::AtLeast(n)) => ("at_least", n.to_string()),
            Some(LoginCount::Every(n)) => ("every", n.to_string()),
            None => ("", String::new()),
        };
        out.insert("when.login_count".into(), kind.into());
        out.insert("when.login_count_n".into(), n);
        out.insert("when.scopes".into(), parts.scopes.join(" "));
        let d = |d: &Option<HumanDuration>| d.as_ref().map(ToString::to_string).unwrap_or_default();
        out.insert("when.since_at_least".into(), d(&parts.since.0));
        out.insert("when.since_at_most".into(), d(&parts.since.1));
        out.insert(
            "when.expression".into(),
            parts.expression.clone().unwrap_or_default(),
        );
    }
    (out, parts.is_none())
}

/// The input a problem of a field (path relative to the field) belongs to.
pub(super) fn field_input(path: &str) -> &'static str {
    const INPUTS: [&str; 23] = [
        "key",
        "kind",
        "required",
        "labels.en",
        "labels.fr",
        "help.en",
        "help.fr",
        "placeholder.en",
        "placeholder.fr",
        "options",
        "validation.min_length",
        "validation.max_length",
        "validation.min",
        "validation.max",
        "validation.pattern_message",
        "validation.pattern",
        "storage",
        "user_access",
        "write_once",
        "reconfirm_after",
        "verify",
        "consent_version",
        "consent_url",
    ];
    let aliases = [
        ("labels", "labels.en"),
        ("help", "help.en"),
        ("placeholder", "placeholder.en"),
        ("validation", "validation.min"),
    ];
    longest(path, &INPUTS)
        .or_else(|| {
            aliases
                .iter()
                .find(|(p, _)| within(path, p))
                .map(|(_, i)| *i)
        })
        // The field as a whole: only "a required field no step asks".
        .unwrap_or(if path.is_empty() { "required" } else { "key" })
}

/// The input a problem of a step (path relative to the step) belongs to, given the inputs the
/// condition's items came from.
pub(super) fn step_input(path: &str, condition_inputs: &[&'static str]) -> &'static str {
    if let Some(rest) = path.strip_prefix("trigger.condition") {
        // `.all[k]...` names an item; otherwise the single part's kind.
        let (index, rest) = match rest.strip_prefix(".all[") {
            Some(r) => {
                let end = r.find(']').unwrap_or(0);
                (r[..end].parse::<usize>().ok(), &r[end + 1..])
            }
            None => (None, rest),
        };
        let by_kind = [
            (".client", "when.clients"),
            (".login_count", "when.login_count_n"),
            (".scopes", "when.scopes"),
            (".since_signup.at_most", "when.since_at_most"),
            (".since_signup", "when.since_at_least"),
            (".expression", "when.expression"),
        ];
        return by_kind
            .iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(_, input)| *input)
            .or_else(|| index.and_then(|i| condition_inputs.get(i).copied()))
            .or_else(|| condition_inputs.first().copied())
            .unwrap_or("moments");
    }
    const INPUTS: [&str; 8] = [
        "id",
        "title.en",
        "title.fr",
        "fields",
        "second_factor",
        "priority",
        "presentation",
        "mode",
    ];
    let aliases = [
        ("title", "title.en"),
        ("trigger.moments", "moments"),
        ("trigger.events", "events"),
        ("trigger", "moments"),
    ];
    longest(path, &INPUTS)
        .or_else(|| {
            aliases
                .iter()
                .find(|(p, _)| within(path, p))
                .map(|(_, i)| *i)
        })
        .unwrap_or("id")
}

/// Whether `path` is `prefix` or inside it.
fn within(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn longest(path: &str, inputs: &[&'static str]) -> Option<&'static str> {
    inputs
        .iter()
        .filter(|input| within(path, input))
        .max_by_key(|input| input.len())
        .copied()
}

/// A select's options with the one chosen: `[{value, label, selected}]`.
pub(super) fn choices(locale: &str, key: &str, values: &[&str], chosen: &str) -> Vec<Value> {
    values
        .iter()
        .map(|v| {
            context! {
                value => v,
                label => text(locale, &format!("{key}.{v}")),
                selected => *v == chosen,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Pairs {
        Pairs(
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_field_round_trips_through_the_form_and_keeps_what_the_form_does_not_show() {
        let mut field = Field::new("size", FieldType::Select);
        field.labels.insert("en".into(), "Size".into());
        field.labels.insert("de".into(), "Größe".into());
        field.options.push(FieldOption {
            value: "1-10".into(),
            labels: [("de".to_owned(), "1–10".to_owned())].into(),
        });
        field.reconfirm_after = Some("180d".parse().unwrap());
        let values = field_values(&field);
        let list: Vec<(&str, &str)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (back, errors) = read_field(&pairs(&list), Some(field.clone()), "en");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back, field);
    }

    #[test]
    fn a_consent_field_keeps_its_version_and_the_address_of_its_text() {
        let mut field = Field::new("terms", FieldType::Consent);
        field
            .labels
            .insert("en".into(), "I accept the terms".into());
        field.consent_version = Some("2026-01".into());
        field.consent_url = Some("https://shop.example/terms/2026-01".into());
        let values = field_values(&field);
        assert_eq!(values["consent_url"], "https://shop.example/terms/2026-01");
        let list: Vec<(&str, &str)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (back, errors) = read_field(&pairs(&list), Some(field.clone()), "en");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back, field);
        assert_eq!(field_input("consent_url"), "consent_url");
        assert_eq!(field_input("consent_version"), "consent_version");
    }

    #[test]
    fn unreadable_inputs_are_named() {
        let (_, errors) = read_field(
            &pairs(&[
                ("key", "size"),
                ("kind", "integer"),
                ("validation.min_length", "many"),
                ("reconfirm_after", "soon"),
            ]),
            None,
            "en",
        );
        assert!(errors.contains_key("validation.min_length"), "{errors:?}");
        assert!(errors.contains_key("reconfirm_after"), "{errors:?}");
    }

    #[test]
    fn a_step_round_trips_and_its_condition_items_are_placed_on_their_inputs() {
        let (step, inputs, errors) = read_step(
            &pairs(&[
                ("id", "work"),
                ("title.en", "Work"),
                ("fields", "company"),
                ("mode", "optional"),
                ("skip.max_skips", "2"),
                ("moments", "login"),
                ("when.login_count", "exactly"),
                ("when.login_count_n", "3"),
                ("when.expression", "user.x =="),
            ]),
            None,
            "en",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(inputs, ["when.login_count", "when.expression"]);
        assert_eq!(
            step_input("trigger.condition.all[1].expression.cel", &inputs),
            "when.expression"
        );
        let (values, advanced) = step_values(&step);
        assert!(!advanced);
        assert_eq!(values["when.login_count_n"], "3");
        let mut list: Vec<(&str, &str)> = values
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "fields" | "moments"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        list.extend([("fields", "company"), ("moments", "login")]);
        let (back, _, errors) = read_step(&pairs(&list), Some(step.clone()), "en");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back, step);
    }

    #[test]
    fn a_condition_beyond_the_form_is_kept() {
        let (mut step, _, _) = read_step(&pairs(&[("id", "s"), ("moments", "login")]), None, "en");
        let any = Condition::Any(vec![Condition::Expression { cel: "true".into() }]);
        step.trigger.condition = Some(any.clone());
        assert!(step_values(&step).1);
        let (back, inputs, _) = read_step(
            &pairs(&[("id", "s"), ("moments", "login")]),
            Some(step),
            "en",
        );
        assert_eq!(back.trigger.condition, Some(any));
        assert!(inputs.is_empty());
    }

    #[test]
    fn problems_are_placed_on_inputs() {
        assert_eq!(field_input("validation.min"), "validation.min");
        assert_eq!(
            field_input("validation.pattern_message.fr"),
            "validation.pattern_message"
        );
        assert_eq!(field_input("options[2].value"), "options");
        assert_eq!(field_input("labels"), "labels.en");
        assert_eq!(field_input(""), "required");
        assert_eq!(step_input("trigger.events", &[]), "events");
        assert_eq!(step_input("fields[0]", &[]), "fields");
        assert_eq!(
            step_input("trigger.condition.client.ids", &["when.clients"]),
            "when.clients"
        );
    }
}
