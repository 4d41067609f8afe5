//! The stable codes of the API's errors, one list: the API answers them as
//! `{"error": <code>}` and the web page says each in its language, so a
//! code added here without its sentences does not compile.

/// Declares [`Code`] with each variant's spelling and the list of all.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $spelling:literal,)*) => {
        /// A kind of API error, as clients and the web page key it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order declared.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The code as the API's JSON and the documentation spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $spelling,)*
                }
            }
        }
    };
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// In the OpenAPI document, a string among [`Code::ALL`]'s spellings, so
/// that a client can switch on every code the API may answer.
impl utoipa::PartialSchema for Code {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Code::ALL.iter().map(|code| code.as_str())))
            .description(Some("A stable code, the same in every version of the API."))
            .into()
    }
}

impl utoipa::ToSchema for Code {
    fn name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
}

codes! {
    /// No such log, entry, token or result.
    NotFound = "not_found",
    /// A parameter or field is missing or malformed.
    BadRequest = "bad_request",
    /// The same record was already published (`refuse_duplicate`).
    DuplicateRecord = "duplicate_record",
    /// A log the store holds is not in the roster.
    Roster = "roster",
    /// The system clock is unusable.
    Clock = "clock",
    /// The store failed to read or write.
    Storage = "storage",
    /// A roster given to the audit is unreadable or invalid.
    BadRoster = "bad_roster",
    /// Anything else that went wrong on the node.
    Failed = "failed",
    /// The log a record refers to is quarantined.
    Quarantined = "quarantined",
    /// The node's own log is quarantined.
    OwnLogQuarantined = "own_log_quarantined",
    /// No peer confirmed the own log's head yet ([`crate::own_log`]).
    OwnLogUnconfirmed = "own_log_unconfirmed",
    /// A peer's checkpoint contradicts the own log.
    OwnLogForked = "own_log_forked",
    /// The ledger's rules or the record's schema refused the record.
    Rejected = "rejected",
    ShuttingDown = "shutting_down",
    NoSuchRoute = "no_such_route",
    MethodNotAllowed = "method_not_allowed",
    /// A screening batch of more applications than one request takes.
    BatchTooLarge = "batch_too_large",
    /// No token, or a wrong or revoked one.
    Unauthorized = "unauthorized",
    /// The token lacks the route's scope.
    InsufficientScope = "insufficient_scope",
    /// An observer node was asked to publish.
    Observer = "observer",
    /// The token publishes faster than `api.limits` allow.
    RateLimited = "rate_limited",
    UnsupportedMediaType = "unsupported_media_type",
    /// The body did not arrive within `api.limits.body_timeout_ms`.
    BodyTimeout = "body_timeout",
    /// The body is larger than a record may be.
    TooLarge = "too_large",
    /// The body could not be read.
    BadBody = "bad_body",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case_words() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{s}"
            );
        }
    }

    /// The API answers a quarantine with the ledger's own code for it.
    #[test]
    fn the_ledger_spells_the_quarantines_as_the_api_does() {
        use concord_protocol::ledger::LedgerError;
        let origin = concord_protocol::origin::Origin::new("test.example/cl").expect("origin");
        assert_eq!(
            LedgerError::Quarantined(origin.clone()).code(),
            Code::Quarantined.as_str()
        );
        assert_eq!(
            LedgerError::OwnLogQuarantined(origin).code(),
            Code::OwnLogQuarantined.as_str()
        );
    }
}
