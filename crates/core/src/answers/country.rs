//! ISO 3166-1 alpha-2 country codes (the 249 officially assigned ones).

const CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY \
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Every assigned ISO 3166-1 alpha-2 code, in alphabetical order: the values a `country` field
/// accepts when it lists no options of its own.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    CODES.split(' ')
}

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code (upper case).
pub fn is_country_code(code: &str) -> bool {
    // `CODES` is sorted, one space between codes: entry i is at bytes 3i..3i+2.
    let table = CODES.as_bytes();
    let count = table.len().div_ceil(3);
    let wanted = code.as_bytes();
    if wanted.len() != 2 {
        return false;
    }
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        let entry = table.get(3 * middle..3 * middle + 2).unwrap_or_default();
        match entry.cmp(wanted) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_every_assigned_code_once_sorted_and_evenly_spaced() {
        assert_eq!(CODES.len(), 249 * 3 - 1);
        assert!(CODES.split(' ').all(|code| code.len() == 2));
        let codes: Vec<&str> = CODES.split_ascii_whitespace().collect();
        assert!(codes.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(codes.iter().all(|code| is_country_code(code)));
        assert_eq!(codes.len(), 249);
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 249);
        assert_eq!(country_codes().collect::<Vec<_>>(), codes);
    }

    #[test]
    fn known_codes_are_accepted_and_others_refused() {
        assert!(is_country_code("FR"));
        assert!(is_country_code("ZW"));
        assert!(!is_country_code("fr"));
        assert!(!is_country_code("XX"));
        assert!(!is_country_code("FRA"));
    }
}
