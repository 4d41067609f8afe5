//! Fixtures shared by the integration tests: the seed scenario's federation
//! (Chile, Colombia, Mexico, Peru and Brazil as members; the UN 1540
//! Committee experts and the WCO as observers) with deterministic keys.

#![allow(dead_code)]

use concord_keys::roster::{LogKey, Member, Policy, Role, Roster, Threshold};
use concord_keys::{AgencyIdentity, MemberId, VerifierKey};
use concord_protocol::record::Country;

pub const FEDERATION: &str = "pacific-alliance";

/// (id, name, country, role) of the seven participants, members first.
pub const PARTICIPANTS: [(&str, &str, &str, Role); 7] = [
    (
        "cl-subrei",
        "Subsecretaría de Relaciones Económicas Internacionales",
        "CL",
        Role::Member,
    ),
    (
        "co-mincit",
        "Ministerio de Comercio, Industria y Turismo",
        "CO",
        Role::Member,
    ),
    ("mx-se", "Secretaría de Economía", "MX", Role::Member),
    (
        "pe-mincetur",
        "Ministerio de Comercio Exterior y Turismo",
        "PE",
        Role::Member,
    ),
    (
        "br-secex",
        "Secretaria de Comércio Exterior",
        "BR",
        Role::Member,
    ),
    // International bodies are listed under the country of their seat.
    (
        "un1540",
        "UN Security Council 1540 Committee experts",
        "US",
        Role::Observer,
    ),
    ("wco", "World Customs Organization", "BE", Role::Observer),
];

pub fn member_id(id: &str) -> MemberId {
    MemberId::new(id).expect("fixture ids are valid")
}

/// A deterministic identity: log seed `[seed; 32]`, transport seed
/// `[seed ^ 0xff; 32]`.
pub fn identity(id: &str, seed: u8) -> AgencyIdentity {
    AgencyIdentity::from_secrets(member_id(id), &[seed; 32], &[seed ^ 0xff; 32])
        .expect("seeds differ")
}

pub fn origin(id: &str) -> String {
    format!("{FEDERATION}.concord/{id}")
}

pub fn note_vkey(identity: &AgencyIdentity) -> VerifierKey {
    VerifierKey::note(&origin(identity.id.as_str()), identity.log_public_key()).expect("valid name")
}

pub fn member(
    identity: &AgencyIdentity,
    name: &str,
    country: &str,
    role: Role,
    peer_n: usize,
) -> Member {
    let id = identity.id.as_str();
    Member {
        id: identity.id.clone(),
        name: name.to_owned(),
        country: Country::try_from(country.to_owned()).expect("fixture countries are valid"),
        role,
        origin: origin(id),
        keys: vec![LogKey::open(note_vkey(identity), 0)],
        peer_id: format!("12D3KooWTestPeer{peer_n}"),
        addrs: vec![format!("/dns4/{id}.example/tcp/4001")],
    }
}

/// The seven identities, in [`PARTICIPANTS`] order (seeds 1 to 7).
pub fn identities() -> Vec<AgencyIdentity> {
    PARTICIPANTS
        .iter()
        .enumerate()
        .map(|(participant_idx, (id, ..))| identity(id, participant_idx as u8 + 1))
        .collect()
}

/// Version 1 of the federation, majority threshold, and its identities.
pub fn genesis() -> (Roster, Vec<AgencyIdentity>) {
    let identities = identities();
    let members = PARTICIPANTS
        .iter()
        .zip(&identities)
        .enumerate()
        .map(|(participant_idx, ((_, name, country, role), identity))| {
            member(identity, name, country, *role, participant_idx + 1)
        })
        .collect();
    let roster = Roster {
        federation: FEDERATION.to_owned(),
        version: 1,
        policy: Policy {
            threshold: Threshold::Majority,
        },
        members,
    };
    roster.validate().expect("the fixture roster is valid");
    (roster, identities)
}
