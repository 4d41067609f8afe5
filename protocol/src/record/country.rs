//! ISO 3166-1 alpha-2 country codes.
//!
//! A [`Country`] is one of the 249 officially assigned alpha-2 codes of
//! ISO 3166-1 (as of the 2024 edition of the standard's online browsing
//! platform), written in uppercase ASCII: `CL`, `CO`, `MX`, `PE`, `BR`.
//! Lowercase, user-assigned (`XA`..`XZ`, `AA`, `QM`..`QZ`, `ZZ`), exceptionally
//! reserved (`EU`, `UK`) and withdrawn codes are rejected.

use super::ValueError;
use super::text::shown;

/// Number of officially assigned ISO 3166-1 alpha-2 codes.
pub const N_COUNTRIES: usize = 249;

/// Every officially assigned ISO 3166-1 alpha-2 code, sorted.
pub static ASSIGNED: [&str; N_COUNTRIES] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A validated ISO 3166-1 alpha-2 country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct Country([u8; 2]);

impl<'de> serde::Deserialize<'de> for Country {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::parsed::from_str(
            deserializer,
            "an ISO 3166-1 alpha-2 country code",
            Country::new,
        )
    }
}

impl Country {
    /// Looks `s` up in the list of assigned codes.
    ///
    /// # Errors
    /// [`ValueError`] when `s` is not an assigned code in uppercase.
    pub fn new(s: &str) -> Result<Self, ValueError> {
        match ASSIGNED.binary_search(&s) {
            Ok(_) => {
                let b = s.as_bytes();
                Ok(Self([b[0], b[1]]))
            }
            Err(_) => Err(ValueError::new(format!(
                "{} is not an ISO 3166-1 alpha-2 country",
                shown(s)
            ))),
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Both bytes came from an entry of ASSIGNED, which is ASCII.
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

impl TryFrom<String> for Country {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Country> for String {
    fn from(c: Country) -> Self {
        c.as_str().to_owned()
    }
}

impl std::str::FromStr for Country {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
