//! Text folded for matching what people type: case, accents, Arabic diacritics and
//! letter variants, and the script of digits do not matter.

/// Folds text for matching: lower case, no diacritics (Arabic harakat, tatweel, Latin
/// accents), one alef, ASCII digits, trimmed of spaces and punctuation.
pub fn fold(text: &str) -> String {
    let folded: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' | '\u{0300}'..='\u{036F}'))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .map(unaccent)
        .collect();
    folded.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || "؟،؛!¡¿".contains(c)).to_owned()
}

/// A Latin letter without its accent, for the letters precomposed in Latin-1.
fn unaccent(c: char) -> char {
    match c {
        'à'..='å' => 'a',
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ñ' => 'n',
        'ò'..='ö' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_accents_diacritics_and_digits_fold_away() {
        assert_eq!(fold("  Café, PLEASE! "), "cafe, please");
        assert_eq!(fold("إِلْغَاء"), "الغاء");
        assert_eq!(fold("السعر؟"), "السعر");
        assert_eq!(fold("١٢٣"), "123");
        assert_eq!(fold("مـــرحبا"), "مرحبا");
    }
}
