//! Name normalisation for screening.
//!
//! Screening compares the names of an application's parties with the names
//! and aliases of every partner's active denials. Two spellings of one company
//! should meet, so [`normalise_name`] maps a name to a key:
//!
//! 1. lowercase (Unicode lowercase mapping);
//! 2. fold Latin letters with diacritics to their base letters (`á`→`a`,
//!    `ñ`→`n`, `ç`→`c`, `ü`→`u`, `ø`→`o`, `ł`→`l`) and expand ligatures
//!    (`ß`→`ss`, `æ`→`ae`, `œ`→`oe`, `þ`→`th`); combining marks (U+0300 to
//!    U+036F) are dropped, so precomposed and decomposed input agree;
//!    fullwidth ASCII forms become ASCII;
//! 3. drop `.` and apostrophes (`S.A.` → `sa`, `O'Brien` → `obrien`); every
//!    other character that is neither a letter nor a digit separates words;
//! 4. collapse whitespace to single spaces;
//! 5. strip common legal-form suffixes at the end, repeatedly (`s.a. de
//!    c.v.`, `ltda.`, `s.a.c.`, `s.a.s.`, `gmbh`, `llc`, `ltd`, `inc`, ...),
//!    but never the whole name.
//!
//! The folding table covers Latin-1 Supplement and Latin Extended-A, which
//! hold every letter used in the member states' languages; other letters
//! (Cyrillic, CJK, ...) are kept as they are after lowercasing.

/// Legal-form suffixes, as words after steps 1 to 4 joined by single
/// spaces. Longer sequences come first so that `sa de cv` is removed whole,
/// not as `cv`.
const LEGAL_FORMS: &[&str] = &[
    "s de rl de cv",
    "sapi de cv",
    "sab de cv",
    "sa de cv",
    "s en c",
    "gmbh co kg",
    "pte ltd",
    "pvt ltd",
    "co ltd",
    "y cia",
    "y cia ltda",
    "cia ltda",
    "sa",
    "sac",
    "saa",
    "sas",
    "spa",
    "srl",
    "sarl",
    "sl",
    "ltda",
    "eireli",
    "eirl",
    "gmbh",
    "kg",
    "ag",
    "bv",
    "nv",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "plc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "cia",
    "fze",
    "fzco",
    "fzc",
];

/// The ASCII folding of one lowercase character, or `None` when the
/// character is kept as it is.
fn fold(c: char) -> Option<&'static str> {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ª' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'º' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    };
    Some(folded)
}

/// Appends lowercase `c` to `folded` as steps 2 and 3 say.
fn push_folded(folded: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        folded.push(c);
    } else if let Some(ascii) = fold(c) {
        folded.push_str(ascii);
    } else if is_combining_mark(c) || matches!(c, '.' | '\'' | '\u{2019}' | '`' | '\u{00B4}') {
        // Dropped: "S.A." is "sa", "O'Brien" is "obrien".
    } else if c.is_alphanumeric() {
        folded.push(c);
    } else if !folded.is_empty() && !folded.ends_with(' ') {
        // Step 4 as it goes: one space between words, none in front.
        folded.push(' ');
    }
}

fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Fullwidth ASCII variants (U+FF01..U+FF5E) map to ASCII by a fixed offset.
fn from_fullwidth(c: char) -> char {
    if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// Folds a name to its screening key (see the module documentation).
///
/// The result is empty only when the name has no letter or digit at all.
pub fn normalise_name(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for c in name.chars() {
        // Most names are ASCII, whose lowercase is one character.
        if c.is_ascii() {
            push_folded(&mut folded, c.to_ascii_lowercase());
        } else {
            for lower in from_fullwidth(c).to_lowercase() {
                push_folded(&mut folded, lower);
            }
        }
    }
    if folded.ends_with(' ') {
        folded.pop();
    }
    // One string, cut in place: names are indexed for every entry a
    // replica ingests.
    'strip: loop {
        for form in LEGAL_FORMS {
            // A whole-word suffix with a word in front of it. The space is
            // looked at first: it rules out most forms without comparing.
            let Some(space) = folded.len().checked_sub(form.len() + 1) else {
                continue;
            };
            if folded.as_bytes()[space] == b' ' && folded.ends_with(form) {
                folded.truncate(space);
                continue 'strip;
            }
        }
        break;
    }
    folded
}
