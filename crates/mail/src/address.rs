//! Mail addresses: checked with lettre's parser, and masked for logs and messages.

use lettre::Address;

use crate::error::MailError;

/// Parses `address` as lettre does before sending (`local@domain`, no display name, no
/// surrounding spaces), so that callers can refuse an address a mail could not go to.
pub fn parse_address(address: &str) -> Result<Address, MailError> {
    address
        .parse::<Address>()
        .map_err(|error| MailError::Address {
            address: mask_address(address),
            message: error.to_string(),
        })
}

/// An address as logs may show it: the first character of the local part, then `***`, then
/// the domain (`a***@example.com`); `***` when it has no `@`.
pub fn mask_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{mask_address, parse_address};

    #[test]
    fn an_address_is_masked_down_to_its_first_letter_and_domain() {
        assert_eq!(mask_address("ada@example.com"), "a***@example.com");
        assert_eq!(mask_address("élise@example.fr"), "é***@example.fr");
        assert_eq!(mask_address("@example.com"), "***@example.com");
        assert_eq!(mask_address("not an address"), "***");
        assert_eq!(mask_address("a\"@\"b@example.com"), "a***@example.com");
    }

    #[test]
    fn parse_address_takes_plain_addresses_and_refuses_the_rest_without_showing_them() {
        assert!(parse_address("ada@example.com").is_ok());
        assert!(parse_address("accrete@localhost").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "Ada <ada@example.com>",
            "ada@exa mple.com",
        ] {
            let error = parse_address(bad).unwrap_err().to_string();
            assert!(error.contains("is not a valid email address"), "{error}");
            if bad.contains('@') {
                assert!(!error.contains(bad), "{error}");
            }
        }
    }
}
