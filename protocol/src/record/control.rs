//! Control-list entries, HS codes and export-control regimes.
//!
//! A [`ControlEntry`] has one of three shapes:
//! - dual-use (EU Annex I / Wassenaar numbering): a category digit, a product
//!   group letter `A`..`E` and three digits, e.g. `1C350`, `5A002`, `9A012`;
//! - munitions: `ML1` to `ML22`;
//! - national list: `XX:` where `XX` is an ISO 3166-1 alpha-2 [`Country`],
//!   then 1 to 32 characters of `[A-Za-z0-9.-]` starting with a letter or
//!   digit, e.g. `MX:SE-ANX3-12`, `BR:MSB-2.1`.
//!
//! Dual-use and munitions entries may carry sub-items: `.`-separated groups
//! that alternate between one or two lowercase letters and one to three
//! digits, at most [`MAX_SUB_ITEMS`] deep: `5A002.a.1`, `2B001.b.2.c`,
//! `ML10.a`, and the EU's numbered chemicals `1C350.1`.
//!
//! An [`HsCode`] is a Harmonized System code or a national extension of it:
//! 6 to 10 digits, with `.` allowed only between groups of digits (`2812.10`,
//! `8457.10.01`, `880690`).
//!
//! A [`Regime`] is one of the multilateral regimes (or `national`), written in
//! snake_case: `wassenaar`, `nsg`, `australia_group`, `mtcr`, `cwc`,
//! `national`.

use super::ValueError;
use super::country::Country;
use super::text::{shown, string_newtype};

/// Deepest sub-item chain accepted (`.b.2.c.1.a.3` has depth 6).
pub const MAX_SUB_ITEMS: usize = 6;
/// Longest national-list item after the `XX:` prefix.
pub const MAX_NATIONAL_ITEM: usize = 32;
/// Highest munitions-list category.
pub const MAX_MUNITIONS_CATEGORY: u32 = 22;

/// A validated control-list entry.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ControlEntry(String);

/// Which list a [`ControlEntry`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlList {
    /// EU / Wassenaar dual-use list (`1C350`).
    DualUse,
    /// Wassenaar munitions list (`ML8`).
    Munitions,
    /// A national list (`MX:SE-ANX3-12`), with the country that keeps it.
    National(Country),
}

fn check_sub_items(rest: &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix('.') else {
        return false;
    };
    let is_letters =
        |g: &str| (1..=2).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_lowercase());
    let is_digits = |g: &str| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit());
    let groups: Vec<&str> = rest.split('.').collect();
    groups.len() <= MAX_SUB_ITEMS
        && groups.iter().all(|g| is_letters(g) || is_digits(g))
        && groups
            .windows(2)
            .all(|pair| is_letters(pair[0]) != is_letters(pair[1]))
}

impl ControlEntry {
    fn classify(s: &str) -> Option<ControlList> {
        let b = s.as_bytes();
        if let Some((prefix, item)) = s.split_once(':') {
            let country = Country::new(prefix).ok()?;
            let item_ok = (1..=MAX_NATIONAL_ITEM).contains(&item.len())
                && item
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                && item
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
            return item_ok.then_some(ControlList::National(country));
        }
        if let Some(rest) = s.strip_prefix("ML") {
            let n_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (digits, sub) = rest.split_at(n_digits);
            let category_ok = !digits.is_empty()
                && !digits.starts_with('0')
                && digits.len() <= 2
                && digits
                    .parse::<u32>()
                    .is_ok_and(|n| (1..=MAX_MUNITIONS_CATEGORY).contains(&n));
            return (category_ok && check_sub_items(sub)).then_some(ControlList::Munitions);
        }
        let head_ok = b.len() >= 5
            && b[0].is_ascii_digit()
            && (b'A'..=b'E').contains(&b[1])
            && b[2..5].iter().all(u8::is_ascii_digit);
        (head_ok && check_sub_items(&s[5..])).then_some(ControlList::DualUse)
    }

    fn check(s: &str) -> Result<(), ValueError> {
        match Self::classify(s) {
            Some(_) => Ok(()),
            None => Err(ValueError::new(format!(
                "{} is not a control-list entry (expected e.g. 1C350, 5A002.a.1, ML10.a or MX:SE-ANX3-12)",
                shown(s)
            ))),
        }
    }

    /// Which list this entry belongs to.
    pub fn list(&self) -> ControlList {
        Self::classify(&self.0).expect("a ControlEntry was classified when it was built")
    }

    /// The entry without its sub-items (`5A002.a.1` → `5A002`); national
    /// entries are returned whole.
    pub fn heading(&self) -> &str {
        match self.list() {
            ControlList::National(_) => &self.0,
            ControlList::DualUse | ControlList::Munitions => {
                self.0.split('.').next().unwrap_or(&self.0)
            }
        }
    }
}
string_newtype!(ControlEntry);

/// A validated HS (Harmonized System) code, possibly with national digits.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct HsCode(String);

impl HsCode {
    fn check(s: &str) -> Result<(), ValueError> {
        let groups_ok = s
            .split('.')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
        let n_digits = s.bytes().filter(u8::is_ascii_digit).count();
        if groups_ok && (6..=10).contains(&n_digits) {
            Ok(())
        } else {
            Err(ValueError::new(format!(
                "{} is not an HS code (6 to 10 digits, dots only between digits, e.g. 2812.10)",
                shown(s)
            )))
        }
    }

    /// The digits alone (`8457.10.01` → `84571001`).
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }

    /// The six-digit international HS subheading (`8457.10.01` → `845710`).
    pub fn subheading(&self) -> String {
        self.0
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect()
    }
}
string_newtype!(HsCode);

/// An export-control regime under which a denial was issued.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    Wassenaar,
    Nsg,
    AustraliaGroup,
    Mtcr,
    Cwc,
    National,
}

impl Regime {
    /// Every regime, in declaration order.
    pub const ALL: [Regime; 6] = [
        Regime::Wassenaar,
        Regime::Nsg,
        Regime::AustraliaGroup,
        Regime::Mtcr,
        Regime::Cwc,
        Regime::National,
    ];

    /// The JSON spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Regime::Wassenaar => "wassenaar",
            Regime::Nsg => "nsg",
            Regime::AustraliaGroup => "australia_group",
            Regime::Mtcr => "mtcr",
            Regime::Cwc => "cwc",
            Regime::National => "national",
        }
    }
}

impl std::str::FromStr for Regime {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Regime::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValueError::new(format!(
                    "{} is not a regime (wassenaar, nsg, australia_group, mtcr, cwc, national)",
                    shown(s)
                ))
            })
    }
}

impl std::fmt::Display for Regime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
