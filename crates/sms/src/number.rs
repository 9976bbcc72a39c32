//! Phone numbers as logs may show them.

/// A number as logs may show it: its first three characters (`+` and the country code's first
/// digits), stars, and its last two digits (`+33******78`); `***` when it is too short to
/// hide anything.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    if chars.len() < 8 {
        return "***".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
}

#[cfg(test)]
mod tests {
    use super::mask_number;

    #[test]
    fn a_number_is_masked_down_to_its_prefix_and_last_two_digits() {
        assert_eq!(mask_number("+33612345678"), "+33*******78");
        assert_eq!(mask_number("+14155550100"), "+14*******00");
        assert_eq!(mask_number("+3361"), "***");
        assert_eq!(mask_number(""), "***");
    }
}
