//! Built-in validation messages, in English and French.

use std::fmt::Write as _;

/// Why one answer was refused.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Refusal {
    Required,
    TooShort(u32),
    TooLong(u32),
    Pattern,
    InvalidCharacters,
    InvalidEmail,
    InvalidPhone,
    InvalidUrl,
    InvalidInteger,
    InvalidNumber,
    InvalidDate,
    TooSmall(String),
    TooLarge(String),
    TooEarly(String),
    TooLate(String),
    InvalidBoolean,
    InvalidOption,
    InvalidCountry,
    ConsentRequired,
    TooManyValues,
    TooFewSelected(String),
    TooManySelected(String),
    ValueTooLarge(usize),
    UnknownField,
    TooManyFields(usize),
    WrongType,
}

#[derive(Clone, Copy, PartialEq)]
enum Language {
    English,
    French,
}

fn language(locale: &str) -> Language {
    let primary = locale.split(['-', '_']).next().unwrap_or("");
    if primary.eq_ignore_ascii_case("fr") {
        Language::French
    } else {
        Language::English
    }
}

impl Refusal {
    /// Stable machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Refusal::Required => "required",
            Refusal::TooShort(_) => "too_short",
            Refusal::TooLong(_) => "too_long",
            Refusal::Pattern => "pattern",
            Refusal::InvalidCharacters => "invalid_characters",
            Refusal::InvalidEmail => "invalid_email",
            Refusal::InvalidPhone => "invalid_phone",
            Refusal::InvalidUrl => "invalid_url",
            Refusal::InvalidInteger => "invalid_integer",
            Refusal::InvalidNumber => "invalid_number",
            Refusal::InvalidDate => "invalid_date",
            Refusal::TooSmall(_) => "too_small",
            Refusal::TooLarge(_) => "too_large",
            Refusal::TooEarly(_) => "too_early",
            Refusal::TooLate(_) => "too_late",
            Refusal::InvalidBoolean => "invalid_boolean",
            Refusal::InvalidOption => "invalid_option",
            Refusal::InvalidCountry => "invalid_country",
            Refusal::ConsentRequired => "consent_required",
            Refusal::TooManyValues => "too_many_values",
            Refusal::TooFewSelected(_) => "too_few_selected",
            Refusal::TooManySelected(_) => "too_many_selected",
            Refusal::ValueTooLarge(_) => "value_too_large",
            Refusal::UnknownField => "unknown_field",
            Refusal::TooManyFields(_) => "too_many_fields",
            Refusal::WrongType => "wrong_type",
        }
    }

    /// The message in `locale` (French for `fr*`, English otherwise).
    pub(crate) fn message(&self, locale: &str) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match language(locale) {
            Language::English => self.english(&mut out),
            Language::French => self.french(&mut out),
        };
        out
    }

    fn english(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Refusal::Required => write!(out, "This field is required."),
            Refusal::TooShort(n) => write!(out, "Enter at least {n} characters."),
            Refusal::TooLong(n) => write!(out, "Enter at most {n} characters."),
            Refusal::Pattern => write!(out, "This value is not in the expected format."),
            Refusal::InvalidCharacters => write!(out, "This value contains invalid characters."),
            Refusal::InvalidEmail => write!(out, "Enter a valid email address."),
            Refusal::InvalidPhone => {
                write!(
                    out,
                    "Enter a valid phone number, with its country code (+33 ...)."
                )
            }
            Refusal::InvalidUrl => write!(out, "Enter a web address starting with https://."),
            Refusal::InvalidInteger => write!(out, "Enter a whole number."),
            Refusal::InvalidNumber => write!(out, "Enter a number."),
            Refusal::InvalidDate => write!(out, "Enter a date as YYYY-MM-DD."),
            Refusal::TooSmall(min) => write!(out, "Enter a value of at least {min}."),
            Refusal::TooLarge(max) => write!(out, "Enter a value of at most {max}."),
            Refusal::TooEarly(min) => write!(out, "Enter a date on or after {min}."),
            Refusal::TooLate(max) => write!(out, "Enter a date on or before {max}."),
            Refusal::InvalidBoolean => write!(out, "Answer yes or no."),
            Refusal::InvalidOption => write!(out, "Choose one of the proposed options."),
            Refusal::InvalidCountry => write!(out, "Choose a country from the list."),
            Refusal::ConsentRequired => write!(out, "You must accept to continue."),
            Refusal::TooManyValues => write!(out, "Too many values were sent for this field."),
            Refusal::TooFewSelected(min) => write!(out, "Choose at least {min}."),
            Refusal::TooManySelected(max) => write!(out, "Choose at most {max}."),
            Refusal::ValueTooLarge(n) => write!(out, "This value is longer than {n} bytes."),
            Refusal::UnknownField => write!(out, "This field was not asked."),
            Refusal::TooManyFields(n) => write!(out, "More than {n} fields were sent."),
            Refusal::WrongType => write!(out, "This value has the wrong type."),
        }
    }

    fn french(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Refusal::Required => write!(out, "Ce champ est obligatoire."),
            Refusal::TooShort(n) => write!(out, "Saisissez au moins {n} caractères."),
            Refusal::TooLong(n) => write!(out, "Saisissez au plus {n} caractères."),
            Refusal::Pattern => write!(out, "Cette valeur n’a pas le format attendu."),
            Refusal::InvalidCharacters => {
                write!(out, "Cette valeur contient des caractères non valides.")
            }
            Refusal::InvalidEmail => write!(out, "Saisissez une adresse e-mail valide."),
            Refusal::InvalidPhone => write!(
                out,
                "Saisissez un numéro de téléphone valide, avec l’indicatif du pays (+33 ...)."
            ),
            Refusal::InvalidUrl => {
                write!(out, "Saisissez une adresse web commençant par https://.")
            }
            Refusal::InvalidInteger => write!(out, "Saisissez un nombre entier."),
            Refusal::InvalidNumber => write!(out, "Saisissez un nombre."),
            Refusal::InvalidDate => write!(out, "Saisissez une date au format AAAA-MM-JJ."),
            Refusal::TooSmall(min) => write!(out, "Saisissez une valeur d’au moins {min}."),
            Refusal::TooLarge(max) => write!(out, "Saisissez une valeur d’au plus {max}."),
            Refusal::TooEarly(min) => write!(out, "Saisissez une date à partir du {min}."),
            Refusal::TooLate(max) => write!(out, "Saisissez une date jusqu’au {max}."),
            Refusal::InvalidBoolean => write!(out, "Répondez par oui ou par non."),
            Refusal::InvalidOption => write!(out, "Choisissez l’une des options proposées."),
            Refusal::InvalidCountry => write!(out, "Choisissez un pays dans la liste."),
            Refusal::ConsentRequired => write!(out, "Vous devez accepter pour continuer."),
            Refusal::TooManyValues => {
                write!(out, "Trop de valeurs ont été envoyées pour ce champ.")
            }
            Refusal::TooFewSelected(min) => write!(out, "Choisissez-en au moins {min}."),
            Refusal::TooManySelected(max) => write!(out, "Choisissez-en au plus {max}."),
            Refusal::ValueTooLarge(n) => write!(out, "Cette valeur dépasse {n} octets."),
            Refusal::UnknownField => write!(out, "Ce champ n’a pas été demandé."),
            Refusal::TooManyFields(n) => write!(out, "Plus de {n} champs ont été envoyés."),
            Refusal::WrongType => write!(out, "Cette valeur n’est pas du bon type."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_locales_get_french_messages_and_others_english() {
        assert_eq!(Refusal::Required.message("fr"), "Ce champ est obligatoire.");
        assert_eq!(
            Refusal::Required.message("fr-CA"),
            "Ce champ est obligatoire."
        );
        assert_eq!(Refusal::Required.message("de"), "This field is required.");
        assert_eq!(
            Refusal::TooLong(5).message("en"),
            "Enter at most 5 characters."
        );
    }
}
