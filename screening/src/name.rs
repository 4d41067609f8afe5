//! Names as screening compares them: normalised keys and the similarity of
//! two names, word by word.
//!
//! [`NameKey::new`] turns a written name into words:
//!
//! 1. transliteration to ASCII with `deunicode` (Cyrillic, Arabic, Persian,
//!    Chinese, Korean, Latin with accents: `Química` → `quimica`,
//!    `ООО Ромашка` → `ooo romashka`, `北京华信` → `bei jing hua xin`);
//! 2. lowercase; `.` and apostrophes vanish (`S.A.` → `sa`, `O'Neil` →
//!    `oneil`), `&` reads `and`, every other sign separates words;
//! 3. a few abbreviations are spelled out (`intl` → `international`);
//! 4. legal forms are removed at both ends, repeatedly, never the whole name
//!    ([`LEGAL_FORMS`]: `s.a. de c.v.`, `ltda`, `gmbh`, `ООО`, `co., ltd`,
//!    `you xian gong si`, `jusik hoesa`, `sharikat`, ...); they are matched
//!    after transliteration, so `ООО` and `OOO` are one form;
//! 5. stopwords (`de`, `del`, `da`, `the`, `al`, ...) take no part in the
//!    word comparison, and generic business words (`trading`, `grupo`,
//!    `industrial`, ...) weigh half a word.
//!
//! [`compare`] aligns the words of two keys one to one, the best pairs first,
//! whatever their order. Two words meet when they are equal, within an edit
//! budget that grows with their length ([`edit_budget`]), when their Double
//! Metaphone codes agree, or — when one name was written in Arabic or Persian
//! script, which writes few vowels — when their consonant skeletons agree.
//! The names' similarity is a Dice coefficient over word weights. Names
//! written as one word on one side and several on the other (`Alrashid`,
//! `Beijing Huaxin` for `Bei Jing Hua Xin`) are also compared whole.

use rphonetic::DoubleMetaphone;
use serde::{Deserialize, Serialize};

/// Legal forms and company-kind words, as words after steps 1 to 3. A form
/// of several words is removed only whole.
pub const LEGAL_FORMS: &[&[&str]] = &[
    // Spanish and Portuguese.
    &["s", "de", "rl", "de", "cv"],
    &["s", "de", "rl"],
    &["sapi", "de", "cv"],
    &["sab", "de", "cv"],
    &["sa", "de", "cv"],
    &["de", "cv"],
    &["s", "en", "c"],
    &["y", "cia"],
    &["e", "cia"],
    &["cia", "ltda"],
    &["sa"],
    &["sac"],
    &["saa"],
    &["sas"],
    &["srl"],
    &["sl"],
    &["ltda"],
    &["eirl"],
    &["eireli"],
    &["me"],
    &["epp"],
    &["cia"],
    &["compania"],
    &["companhia"],
    &["sociedad", "anonima"],
    &["sociedade", "anonima"],
    // English, German, Dutch, Italian, French.
    &["gmbh", "and", "co", "kg"],
    &["fz", "llc"],
    &["co", "ltd"],
    &["pte", "ltd"],
    &["pvt", "ltd"],
    &["private", "limited"],
    &["gmbh"],
    &["kg"],
    &["ag"],
    &["bv"],
    &["nv"],
    &["spa"],
    &["sarl"],
    &["llc"],
    &["llp"],
    &["lp"],
    &["ltd"],
    &["limited"],
    &["plc"],
    &["inc"],
    &["incorporated"],
    &["corp"],
    &["corporation"],
    &["co"],
    &["company"],
    // Gulf free zones.
    &["fze"],
    &["fzco"],
    &["fzc"],
    // Russian and other post-Soviet forms, as deunicode writes ООО, ЗАО, ...
    &["ooo"],
    &["zao"],
    &["oao"],
    &["pao"],
    &["ao"],
    &["tov"],
    &["too"],
    &["ip"],
    &["pjsc"],
    &["ojsc"],
    &["cjsc"],
    &["jsc"],
    // Chinese (有限公司, 股份有限公司) in pinyin, by syllable and by word.
    &["gu", "fen", "you", "xian", "gong", "si"],
    &["you", "xian", "gong", "si"],
    &["you", "xian", "ze", "ren", "gong", "si"],
    &["gufen", "youxian", "gongsi"],
    &["youxian", "gongsi"],
    &["youxian", "zeren", "gongsi"],
    &["gong", "si"],
    &["gongsi"],
    // Korean (주식회사), as deunicode and as the usual romanisations write it.
    &["jusighoesa"],
    &["jusik", "hoesa"],
    &["chusik", "hoesa"],
    &["jusikhoesa"],
    // Arabic and Persian "company" (شركة, شرکت), as deunicode and as
    // romanisations write it.
    &["shrk"],
    &["shrkt"],
    &["shrkht"],
    &["sharikat"],
    &["sharika"],
    &["sherkat"],
    &["shirkat"],
];

/// Words that take no part in the word comparison: articles, prepositions,
/// conjunctions of the federation's languages, and the Arabic article.
const STOPWORDS: &[&str] = &[
    "a", "al", "and", "da", "das", "de", "del", "do", "dos", "du", "e", "el", "en", "et", "for",
    "la", "las", "le", "les", "los", "of", "the", "und", "von", "y",
];

/// Words common in company names that tell companies apart less than a
/// proper name does: they weigh [`GENERIC_WEIGHT`].
const GENERIC: &[&str] = &[
    "comercial",
    "comercializadora",
    "distribuidora",
    "distribution",
    "empresa",
    "empresas",
    "engineering",
    "enterprises",
    "export",
    "exportadora",
    "global",
    "group",
    "grupo",
    "holding",
    "holdings",
    "import",
    "importadora",
    "industrial",
    "industriales",
    "industrias",
    "industries",
    "ingenieria",
    "internacional",
    "international",
    "logistica",
    "logistics",
    "services",
    "servicios",
    "soluciones",
    "solutions",
    "suministros",
    "supplies",
    "technologies",
    "tecnologia",
    "tecnologias",
    "trading",
];

/// Abbreviations spelled out before comparison, so both spellings meet.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("intl", "international"),
    ("int", "international"),
    ("mfg", "manufacturing"),
    ("inds", "industrias"),
    ("ind", "industrial"),
    ("tech", "technologies"),
    ("dist", "distribuidora"),
];

/// Weight of a generic business word, against 1 for any other word.
pub const GENERIC_WEIGHT: f64 = 0.5;

/// Similarity of two words that sound alike by Double Metaphone, or share
/// their consonant skeleton in a name written in Arabic script.
const SOUND_SIMILARITY: f64 = 0.9;

/// Which writing a name came in, as far as matching cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// Latin letters, with or without accents.
    Latin,
    /// Another script transliterated to Latin letters.
    Transliterated,
    /// Arabic or Persian script (or Hebrew), which write few vowels: their
    /// transliteration is compared by consonant skeleton too.
    Abjad,
}

/// One word of a normalised name.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    /// [`GENERIC_WEIGHT`] or 1.
    pub weight: f64,
    /// Double Metaphone primary and alternate codes (equal when the word
    /// has one reading).
    pub sounds: [String; 2],
    /// The word's consonant skeleton ([`skeleton`]).
    pub skeleton: String,
}

/// A name ready for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct NameKey {
    /// The words that take part in the word comparison, in written order.
    pub words: Vec<Word>,
    /// Every word after legal forms were removed, stopwords included, with
    /// no space: the name compared whole.
    pub joined: String,
    /// `joined` reduced to its consonants, as [`skeleton`] writes them: what
    /// survives of a name written in Arabic script.
    pub skeleton: String,
    /// How many words `joined` was made of.
    pub n_written: usize,
    pub script: Script,
}

/// How two words, or two names, met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum How {
    /// Equal after normalisation (case, accents, punctuation, legal forms).
    SameKey,
    /// Equal or alike only after one side was transliterated from another
    /// script.
    Transliteration,
    /// Alike by Double Metaphone.
    Phonetic,
    /// Within the edit budget of their length.
    EditDistance { distance: usize },
    /// The words met in another order.
    WordOrder,
    /// One side's value is an alias, not the party's name.
    Alias,
    /// A registry identifier is equal on both sides.
    Identifier,
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::SameKey => f.write_str("same key"),
            How::Transliteration => f.write_str("transliteration"),
            How::Phonetic => f.write_str("phonetic"),
            How::EditDistance { distance } => write!(f, "edit distance {distance}"),
            How::WordOrder => f.write_str("word order"),
            How::Alias => f.write_str("alias"),
            How::Identifier => f.write_str("identifier"),
        }
    }
}

/// Two words that met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordMatch {
    pub application: String,
    pub denial: String,
    pub how: How,
}

/// The similarity of two names and how they met.
#[derive(Debug, Clone, PartialEq)]
pub struct NameMatch {
    /// 0 to 1.
    pub score: f64,
    /// Every way the names met, without repetition.
    pub how: Vec<How>,
    /// The words that met, by their places in the two keys' `words`, in
    /// the application's order; empty when the names met whole.
    pub pairs: Vec<(usize, usize, How)>,
}

impl NameMatch {
    /// The words that met, written out, for the application's key `a` and
    /// the denial's `b` this match was made from.
    pub fn words(&self, a: &NameKey, b: &NameKey) -> Vec<WordMatch> {
        self.pairs
            .iter()
            .map(|&(i, j, how)| WordMatch {
                application: a.words[i].text.clone(),
                denial: b.words[j].text.clone(),
                how,
            })
            .collect()
    }
}

/// How many edits two words (or names) of `len` characters, the longer
/// one's, may differ by and still meet: none up to 4 characters, where one
/// letter makes another word (`Alfa`, `Alba`), then one per 4 characters,
/// at most 3.
pub fn edit_budget(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=7 => 1,
        8..=11 => 2,
        _ => 3,
    }
}

fn script_of(name: &str) -> Script {
    let mut script = Script::Latin;
    for c in name.chars().filter(|c| c.is_alphabetic()) {
        match u32::from(c) {
            // Basic Latin to Latin Extended-B, IPA, and Latin Extended
            // Additional (Vietnamese): letters deunicode only strips.
            0..=0x02AF | 0x1E00..=0x1EFF => {}
            // Hebrew, Arabic, Syriac, Arabic Supplement, Arabic
            // Presentation Forms A and B.
            0x0590..=0x077F | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF => return Script::Abjad,
            _ => script = Script::Transliterated,
        }
    }
    script
}

fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

fn weight_of(word: &str) -> f64 {
    if GENERIC.binary_search(&word).is_ok() {
        GENERIC_WEIGHT
    } else {
        1.0
    }
}

/// The words of `name` after steps 1 to 3 of the module documentation.
fn written_words(name: &str) -> Vec<String> {
    let ascii = deunicode::deunicode(name);
    let mut spaced = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        match c {
            'a'..='z' | '0'..='9' => spaced.push(c),
            'A'..='Z' => spaced.push(c.to_ascii_lowercase()),
            // Dropped inside words: "S.A." is "sa"; deunicode writes the
            // Arabic ayn as ` and ta marbuta as @.
            '.' | '\'' | '`' | '@' => {}
            '&' => spaced.push_str(" and "),
            _ => spaced.push(' '),
        }
    }
    spaced
        .split_ascii_whitespace()
        .map(|word| {
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == word)
                .map_or(word, |(_, long)| long)
                .to_owned()
        })
        .collect()
}

/// Removes legal forms from both ends of `words`, never the last word left.
fn strip_legal_forms(words: &mut Vec<String>) {
    loop {
        let at_end = LEGAL_FORMS.iter().find(|form| {
            form.len() < words.len() && words[words.len() - form.len()..].iter().eq(form.iter())
        });
        if let Some(form) = at_end {
            words.truncate(words.len() - form.len());
            continue;
        }
        let at_start = LEGAL_FORMS
            .iter()
            .find(|form| form.len() < words.len() && words[..form.len()].iter().eq(form.iter()));
        if let Some(form) = at_start {
            words.drain(..form.len());
            continue;
        }
        break;
    }
}

/// Double Metaphone codes of `word`, primary then alternate.
pub fn sounds(word: &str) -> [String; 2] {
    // No length limit: the usual 4 letters make too many short names sound
    // alike.
    let codes = DoubleMetaphone::new(None).double_metaphone(word);
    [codes.primary(), codes.alternate()]
}

/// The consonant skeleton of ASCII words (see [`NameKey::skeleton`]); a
/// space separates words, so that a digraph's h never spans two.
pub fn skeleton(text: &str) -> String {
    let mut skeleton = String::with_capacity(text.len());
    let mut previous = ' ';
    for c in text.chars() {
        if c == ' ' {
            previous = c;
            continue;
        }
        // The letters romanisations add or swap for one Arabic or Persian
        // letter: vowels, the glides و and ی (w, v, y), the h of a digraph
        // (sh, kh, th, dh, gh, zh, ch), and q, g, k for ق and گ.
        let kept = match c {
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'w' | 'v' => None,
            'h' if matches!(previous, 's' | 'k' | 't' | 'd' | 'g' | 'z' | 'c') => None,
            'q' | 'g' => Some('k'),
            other => Some(other),
        };
        previous = c;
        if let Some(kept) = kept
            && !skeleton.ends_with(kept)
        {
            skeleton.push(kept);
        }
    }
    skeleton
}

/// Writes the Arabic article ال as a word of its own (`al`), as
/// romanisations do, so that it is a stopword: deunicode would glue its `l`
/// to the next word.
fn separate_arabic_article(name: &str) -> String {
    name.split(' ')
        .map(|word| match word.strip_prefix("ال") {
            Some(rest) if !rest.is_empty() => format!("al {rest}"),
            _ => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl NameKey {
    /// Normalises `name` (see the module documentation).
    pub fn new(name: &str) -> NameKey {
        let script = script_of(name);
        let mut written = if script == Script::Abjad {
            written_words(&separate_arabic_article(name))
        } else {
            written_words(name)
        };
        strip_legal_forms(&mut written);
        let joined: String = written.concat();
        let mut kept: Vec<&String> = written.iter().filter(|w| !is_stopword(w)).collect();
        if kept.is_empty() {
            // A name made only of stopwords is still a name.
            kept = written.iter().collect();
        }
        let words = kept
            .into_iter()
            .map(|text| Word {
                weight: weight_of(text),
                sounds: sounds(text),
                skeleton: skeleton(text),
                text: text.clone(),
            })
            .collect();
        NameKey {
            words,
            skeleton: skeleton(&written.join(" ")),
            joined,
            n_written: written.len(),
            script,
        }
    }

    /// Whether the name has nothing to compare (no letter or digit at all).
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }
}

/// How `a` (the application's) and `b` (the denial's) met, and how alike
/// they are; `None` when they do not meet.
fn compare_words(a: &Word, b: &Word, abjad: bool) -> Option<(f64, How)> {
    if a.text == b.text {
        return Some((1.0, How::SameKey));
    }
    let len = a.text.len().max(b.text.len());
    let budget = edit_budget(len);
    // Sounds and skeletons are coarse: they meet words that differ in at
    // most about half their letters.
    let half = len.div_ceil(2);
    let sound_alike = len >= 4
        && a.sounds
            .iter()
            .any(|code| code.len() >= 2 && b.sounds.contains(code));
    let skeleton_alike = abjad && len >= 3 && a.skeleton.len() >= 2 && a.skeleton == b.skeleton;
    // Words too far apart for any rule are not compared letter by letter:
    // most word pairs of two unrelated names end here.
    let limit = if sound_alike || skeleton_alike {
        budget.max(half)
    } else {
        budget
    };
    if least_distance(&a.text, &b.text) > limit {
        return None;
    }
    let distance = strsim::osa_distance(&a.text, &b.text);
    // Half a word per edit relative to its length: one typo in a long word
    // costs less than in a short one.
    let by_edits = (distance <= budget).then(|| {
        (
            1.0 - 0.5 * distance as f64 / len as f64,
            How::EditDistance { distance },
        )
    });
    let by_sound = if distance > half {
        None
    } else if sound_alike {
        Some((SOUND_SIMILARITY, How::Phonetic))
    } else if skeleton_alike {
        Some((SOUND_SIMILARITY, How::Transliteration))
    } else {
        None
    };
    match (by_edits, by_sound) {
        (Some(e), Some(s)) => Some(if e.0 >= s.0 { e } else { s }),
        (e, s) => e.or(s),
    }
}

/// A lower bound of the edit distance of two ASCII strings, far cheaper
/// than the distance: each edit adds, removes or swaps one letter, so the
/// distance is at least the number of letters one string has beyond the
/// other's, counted with repetition. Most words of two unrelated names
/// share few letters, and are told apart here.
fn least_distance(a: &str, b: &str) -> usize {
    // Keys hold lowercase ASCII letters and digits only.
    let slot = |byte: u8| match byte {
        b'0'..=b'9' => usize::from(byte - b'0'),
        _ => 10 + usize::from(byte.wrapping_sub(b'a')) % 26,
    };
    let mut counts = [0i16; 36];
    for byte in a.bytes() {
        counts[slot(byte)] += 1;
    }
    for byte in b.bytes() {
        counts[slot(byte)] -= 1;
    }
    let (more, fewer) = counts.iter().fold((0, 0), |(more, fewer), &n| {
        (more + n.max(0) as usize, fewer + (-n).max(0) as usize)
    });
    more.max(fewer)
}

fn push_how(how: &mut Vec<How>, new: How) {
    if !how.contains(&new) {
        how.push(new);
    }
}

/// The similarity of the application's name `a` and the denial's name `b`
/// (see the module documentation).
pub fn compare(a: &NameKey, b: &NameKey) -> NameMatch {
    let none = NameMatch {
        score: 0.0,
        how: Vec::new(),
        pairs: Vec::new(),
    };
    if a.is_empty() || b.is_empty() {
        return none;
    }
    let transliterated = a.script != Script::Latin || b.script != Script::Latin;
    let abjad = a.script == Script::Abjad || b.script == Script::Abjad;
    let whole_how = |how: How| {
        let mut list = vec![how];
        if transliterated {
            push_how(&mut list, How::Transliteration);
        }
        list
    };
    if a.joined == b.joined {
        return NameMatch {
            score: 1.0,
            how: whole_how(How::SameKey),
            pairs: Vec::new(),
        };
    }

    let by_words = compare_by_words(a, b, abjad, transliterated);
    let mut best = by_words;
    // A name split differently on each side (`Alrashid`, `Bei Jing`) is
    // compared whole; names with as many words are left to the words, so
    // that one letter does not join `Alfa Norte` and `Alba Norte`.
    if a.n_written != b.n_written {
        let len = a.joined.len().max(b.joined.len());
        let distance = if least_distance(&a.joined, &b.joined) <= edit_budget(len) {
            strsim::osa_distance(&a.joined, &b.joined)
        } else {
            usize::MAX
        };
        if distance <= edit_budget(len) {
            let score = 1.0 - 0.5 * distance as f64 / len as f64;
            if score > best.score {
                best = NameMatch {
                    score,
                    how: whole_how(How::EditDistance { distance }),
                    pairs: Vec::new(),
                };
            }
        }
    }
    // Whole skeletons: one consonant may differ in a long one (ض is `d`
    // to deunicode and `z` to a Persian romanisation).
    if abjad && a.skeleton.len().min(b.skeleton.len()) >= 4 {
        let distance = strsim::osa_distance(&a.skeleton, &b.skeleton);
        let score = match distance {
            0 => SOUND_SIMILARITY,
            1 if a.skeleton.len() >= 8 => SOUND_SIMILARITY - 0.05,
            _ => 0.0,
        };
        if score > best.score {
            best = NameMatch {
                score,
                how: vec![How::Transliteration],
                pairs: Vec::new(),
            };
        }
    }
    best
}

/// The word-by-word comparison of [`compare`].
fn compare_by_words(a: &NameKey, b: &NameKey, abjad: bool, transliterated: bool) -> NameMatch {
    let mut pairs = Vec::new();
    for (i, word_a) in a.words.iter().enumerate() {
        for (j, word_b) in b.words.iter().enumerate() {
            if let Some((similarity, how)) = compare_words(word_a, word_b, abjad) {
                pairs.push((similarity, i, j, how));
            }
        }
    }
    // Best pairs first; ties in written order, so the result is the same
    // on every run.
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut used_a = vec![false; a.words.len()];
    let mut used_b = vec![false; b.words.len()];
    let mut matched = Vec::new();
    let mut numerator = 0.0;
    for (similarity, i, j, how) in pairs {
        if used_a[i] || used_b[j] {
            continue;
        }
        used_a[i] = true;
        used_b[j] = true;
        numerator += similarity * (a.words[i].weight + b.words[j].weight);
        matched.push((i, j, how));
    }
    let total: f64 = a.words.iter().chain(&b.words).map(|w| w.weight).sum();
    let score = numerator / total;

    let mut how = Vec::new();
    matched.sort_unstable_by_key(|&(i, _, _)| i);
    for &(_, _, word_how) in &matched {
        let word_how = match word_how {
            How::SameKey if transliterated => How::Transliteration,
            other => other,
        };
        push_how(&mut how, word_how);
    }
    if matched.windows(2).any(|pair| pair[0].1 > pair[1].1) {
        push_how(&mut how, How::WordOrder);
    }
    NameMatch {
        score,
        how,
        pairs: matched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(GENERIC.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn keys() {
        let check = |name: &str, joined: &str, words: &[&str], script: Script| {
            let key = NameKey::new(name);
            assert_eq!(key.joined, joined, "{name}");
            let texts: Vec<&str> = key.words.iter().map(|w| w.text.as_str()).collect();
            assert_eq!(texts, words, "{name}");
            assert_eq!(key.script, script, "{name}");
        };
        check(
            "Química del Pacífico S.A. de C.V.",
            "quimicadelpacifico",
            &["quimica", "pacifico"],
            Script::Latin,
        );
        check(
            "ООО «Ромашка»",
            "romashka",
            &["romashka"],
            Script::Transliterated,
        );
        check(
            "Hanbit Trading Co., Ltd.",
            "hanbittrading",
            &["hanbit", "trading"],
            Script::Latin,
        );
        check(
            "주식회사 한빛",
            "hanbic",
            &["hanbic"],
            Script::Transliterated,
        );
        check(
            "北京华信贸易有限公司",
            "beijinghuaxinmaoyi",
            &["bei", "jing", "hua", "xin", "mao", "yi"],
            Script::Transliterated,
        );
        check(
            "محمد الرشيد",
            "mhmdalrshyd",
            &["mhmd", "rshyd"],
            Script::Abjad,
        );
        check(
            "Distribuidora Andes E.I.R.L.",
            "distribuidoraandes",
            &["distribuidora", "andes"],
            Script::Latin,
        );
        // Never the whole name: a company called "Company" keeps its name.
        check("Company", "company", &["company"], Script::Latin);
        check(
            "Smith & Sons Intl. Ltd",
            "smithandsonsinternational",
            &["smith", "sons", "international"],
            Script::Latin,
        );
    }

    #[test]
    fn least_distance_bounds_the_distance() {
        for (a, b) in [
            ("pacifico", "pacifco"),
            ("samsung", "samseong"),
            ("andes", "orinoco"),
            ("qaddafi", "gaddafi"),
            ("ab", "ba"),
            ("", "trading"),
        ] {
            assert!(
                least_distance(a, b) <= strsim::osa_distance(a, b),
                "{a} {b}"
            );
        }
        assert_eq!(least_distance("andes", "orinoco"), 6);
    }

    #[test]
    fn budgets() {
        for (len, budget) in [
            (3, 0),
            (4, 0),
            (5, 1),
            (7, 1),
            (8, 2),
            (11, 2),
            (12, 3),
            (40, 3),
        ] {
            assert_eq!(edit_budget(len), budget, "{len}");
        }
    }

    #[test]
    fn comparisons() {
        let check = |a: &str, b: &str, min: f64, max: f64, how: How| {
            let found = compare(&NameKey::new(a), &NameKey::new(b));
            assert!(
                (min..=max).contains(&found.score),
                "{a} / {b}: {} not in {min}..={max}",
                found.score
            );
            assert!(
                found.how.contains(&how),
                "{a} / {b}: {:?} lacks {how:?}",
                found.how
            );
        };
        check(
            "QUIMICA DEL PACIFICO",
            "Química del Pacífico S.A. de C.V.",
            1.0,
            1.0,
            How::SameKey,
        );
        check(
            "Mohammed Qaddafi",
            "Muhammad Gaddafi",
            0.89,
            0.95,
            How::Phonetic,
        );
        check(
            "Pacifco Minerales",
            "Pacifico Minerales",
            0.9,
            0.99,
            How::EditDistance { distance: 1 },
        );
        check(
            "Petrov Vladimir",
            "Vladimir Petrov",
            1.0,
            1.0,
            How::WordOrder,
        );
        check(
            "Vladimir Petrov",
            "Владимир Петров",
            1.0,
            1.0,
            How::Transliteration,
        );
        check(
            "Mohammed Al-Rashid",
            "محمد الرشيد",
            0.85,
            1.0,
            How::Transliteration,
        );
        check(
            "Beijing Huaxin Maoyi Co., Ltd.",
            "北京华信贸易有限公司",
            1.0,
            1.0,
            How::Transliteration,
        );
        // Same generic words, different proper names.
        check(
            "Andes Chemical Trading",
            "Pacific Chemical Trading",
            0.0,
            0.65,
            How::SameKey,
        );
    }

    #[test]
    fn short_words_need_exact_letters() {
        let found = compare(&NameKey::new("Grupo Alfa"), &NameKey::new("Grupo Alba"));
        assert!(found.score < 0.5, "{}", found.score);
    }
}
