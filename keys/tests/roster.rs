//! The federation roster: signed genesis and updates, rotation, revocation,
//! validation and the queries a node asks.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{FEDERATION, genesis, identity, member, member_id, note_vkey, origin};
use concord_keys::roster::{LogKey, Role, Roster, RosterError, SignedRoster, Threshold};
use concord_keys::{AgencyIdentity, VerifierKey};
use concord_protocol::equivocation::{KeyLookup, KeyRefusal};
use concord_protocol::note::ALG_COSIGNATURE_V1;
use concord_protocol::origin::Origin;
use ed25519_dalek::Signer as _;

fn as_origin(origin: &str) -> Origin {
    Origin::new(origin).expect("valid origin")
}

// Indexes into the fixture identities.
const CL: usize = 0;
const CO: usize = 1;
const MX: usize = 2;
const PE: usize = 3;
const BR: usize = 4;
const UN: usize = 5;
const WCO: usize = 6;

fn signed_by(roster: &Roster, signers: &[&AgencyIdentity]) -> Vec<u8> {
    let mut signed = SignedRoster::new(roster).expect("valid roster");
    for signer in signers {
        signed.sign(signer);
    }
    signed.to_bytes()
}

fn pick<'a>(identities: &'a [AgencyIdentity], idxs: &[usize]) -> Vec<&'a AgencyIdentity> {
    idxs.iter().map(|&idx| &identities[idx]).collect()
}

fn not_enough(need: u64, have: u64) -> Result<Roster, RosterError> {
    Err(RosterError::NotEnoughSignatures { need, have })
}

/// Rewrites a roster file's JSON envelope.
fn edit_envelope(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut envelope: serde_json::Value =
        serde_json::from_slice(bytes).expect("roster files are JSON");
    edit(&mut envelope);
    serde_json::to_vec(&envelope).expect("serialises")
}

#[test]
fn genesis_threshold_table() {
    let (roster, identities) = genesis();
    assert_eq!(roster.n_members(), 5);
    assert_eq!(roster.required_signatures(), 3);
    let check = |signers: &[usize], expected: Result<(), RosterError>| {
        let bytes = signed_by(&roster, &pick(&identities, signers));
        let got = SignedRoster::verify_genesis(&bytes).map(|verified| assert_eq!(verified, roster));
        assert_eq!(got, expected, "signers {signers:?}");
    };
    check(&[CL, MX, PE], Ok(()));
    check(&[CL, CO, MX, PE, BR], Ok(()));
    check(&[MX, UN, WCO, CL, BR], Ok(()));
    check(
        &[CL, MX],
        Err(RosterError::NotEnoughSignatures { need: 3, have: 2 }),
    );
    // Observers never count.
    check(
        &[CL, MX, UN, WCO],
        Err(RosterError::NotEnoughSignatures { need: 3, have: 2 }),
    );
    check(
        &[],
        Err(RosterError::NotEnoughSignatures { need: 3, have: 0 }),
    );
}

#[test]
fn not_enough_signatures_message_gives_the_counts() {
    let (roster, identities) = genesis();
    let bytes = signed_by(&roster, &pick(&identities, &[CL, MX]));
    let error = SignedRoster::verify_genesis(&bytes).expect_err("two of five");
    assert_eq!(
        error.to_string(),
        "need 3 signatures of members, have 2 valid"
    );
}

#[test]
fn at_least_threshold() {
    let (mut roster, identities) = genesis();
    roster.policy.threshold = Threshold::AtLeast(4);
    let bytes = signed_by(&roster, &pick(&identities, &[CL, MX, PE]));
    assert_eq!(SignedRoster::verify_genesis(&bytes), not_enough(4, 3));
    let bytes = signed_by(&roster, &pick(&identities, &[CL, MX, PE, BR]));
    assert!(SignedRoster::verify_genesis(&bytes).is_ok());
}

#[test]
fn duplicate_signatures_by_one_member_count_once() {
    let (roster, identities) = genesis();
    let bytes = signed_by(&roster, &pick(&identities, &[CL, MX]));
    let bytes = edit_envelope(&bytes, |envelope| {
        let signatures = envelope["signatures"].as_array_mut().expect("array");
        let first = signatures[0].clone();
        signatures.push(first.clone());
        signatures.push(first);
    });
    assert_eq!(SignedRoster::verify_genesis(&bytes), not_enough(3, 2));
}

#[test]
fn signing_twice_replaces_the_signature() {
    let (roster, identities) = genesis();
    let mut signed = SignedRoster::new(&roster).expect("valid");
    signed
        .sign(&identities[CL])
        .sign(&identities[CL])
        .sign(&identities[MX]);
    assert_eq!(signed.signatures().len(), 2);
}

#[test]
fn signature_with_unknown_id_or_wrong_key_is_ignored() {
    let (roster, identities) = genesis();
    // An agency not in the roster, and Peru's id with a key that is not Peru's.
    let outsider = identity("ar-cancilleria", 40);
    let impostor = identity("pe-mincetur", 41);
    let bytes = signed_by(
        &roster,
        &[&identities[CL], &identities[MX], &outsider, &impostor],
    );
    assert_eq!(SignedRoster::verify_genesis(&bytes), not_enough(3, 2));
}

#[test]
fn approvals_travel_between_signers() {
    let (roster, identities) = genesis();
    let mut bytes = signed_by(&roster, &[&identities[CL]]);
    for signer in [MX, BR] {
        let mut signed = SignedRoster::from_bytes(&bytes).expect("well formed");
        signed.sign(&identities[signer]);
        bytes = signed.to_bytes();
    }
    assert_eq!(SignedRoster::verify_genesis(&bytes), Ok(roster));
}

#[test]
fn genesis_must_be_version_one() {
    let (mut roster, identities) = genesis();
    roster.version = 2;
    let bytes = signed_by(&roster, &pick(&identities, &[CL, CO, MX]));
    assert_eq!(
        SignedRoster::verify_genesis(&bytes),
        Err(RosterError::WrongVersion {
            expected: 1,
            found: 2
        })
    );
}

#[test]
fn tampered_roster_byte_fails() {
    let (roster, identities) = genesis();
    let bytes = signed_by(&roster, &pick(&identities, &[CL, CO, MX]));
    let bytes = edit_envelope(&bytes, |envelope| {
        let roster_b64 = envelope["roster"].as_str().expect("string");
        let mut roster_bytes = BASE64.decode(roster_b64).expect("base64");
        let text = String::from_utf8(roster_bytes.clone()).expect("utf-8");
        // Still valid JSON and a valid roster, one byte different.
        let at = text.find("World Customs").expect("present");
        roster_bytes[at] = b'w';
        envelope["roster"] = BASE64.encode(roster_bytes).into();
    });
    assert_eq!(SignedRoster::verify_genesis(&bytes), not_enough(3, 0));
}

#[test]
fn tampered_signature_fails() {
    let (roster, identities) = genesis();
    let bytes = signed_by(&roster, &pick(&identities, &[CL, CO, MX]));
    let bytes = edit_envelope(&bytes, |envelope| {
        let signature = &mut envelope["signatures"][1]["signature"];
        let mut raw = BASE64
            .decode(signature.as_str().expect("string"))
            .expect("base64");
        raw[10] ^= 0x01;
        *signature = BASE64.encode(raw).into();
    });
    assert_eq!(SignedRoster::verify_genesis(&bytes), not_enough(3, 2));
}

/// A roster file over `roster_bytes` as they are, signed by `signers`.
fn file_over(roster_bytes: &[u8], signers: &[&AgencyIdentity]) -> Vec<u8> {
    let mut message = b"concord/roster/v1\n".to_vec();
    message.extend_from_slice(roster_bytes);
    let signatures: Vec<serde_json::Value> = signers
        .iter()
        .map(|signer| {
            let key_id = note_vkey(signer).key_id();
            serde_json::json!({
                "member": signer.id.as_str(),
                "key_id": key_id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "signature": BASE64.encode(signer.log_key.sign(&message).to_bytes()),
            })
        })
        .collect();
    let file = serde_json::json!({
        "format": "concord-roster/v1",
        "roster": BASE64.encode(roster_bytes),
        "signatures": signatures,
    });
    serde_json::to_vec(&file).expect("serialises")
}

#[test]
fn signed_but_not_canonical_is_refused() {
    let (roster, identities) = genesis();
    let signers = pick(&identities, &[CL, CO, MX]);
    let canonical = concord_protocol::canonical::to_canonical_vec(&roster).expect("serialises");
    assert!(SignedRoster::verify_genesis(&file_over(&canonical, &signers)).is_ok());

    let pretty = serde_json::to_vec_pretty(&roster).expect("serialises");
    // Canonical bytes, but in a form Concord's parser reads and never
    // writes: the roster must be exactly the encoding of what it says.
    let text = String::from_utf8(canonical.clone()).expect("UTF-8");
    let no_last_index = text.replacen("\"last_index\":null,", "", 1);
    let majority_object = text.replacen("\"majority\"", "{\"majority\":null}", 1);
    for bytes in [
        pretty,
        no_last_index.into_bytes(),
        majority_object.into_bytes(),
    ] {
        assert_ne!(bytes, canonical);
        assert_eq!(
            SignedRoster::verify_genesis(&file_over(&bytes, &signers)),
            Err(RosterError::NotCanonical),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn roster_files_are_written_canonical() {
    let (roster, identities) = genesis();
    // Signed in an order other than the members' ids.
    let file = signed_by(&roster, &pick(&identities, &[MX, CL, CO]));
    assert!(concord_protocol::canonical::is_canonical(&file));
    let envelope: serde_json::Value = serde_json::from_slice(&file).expect("JSON");
    let members: Vec<&str> = envelope["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| s["member"].as_str().expect("member"))
        .collect();
    let mut sorted = members.clone();
    sorted.sort_unstable();
    assert_eq!(members, sorted);
    // Any spelling of the same file becomes these bytes again.
    let pretty = serde_json::to_vec_pretty(&envelope).expect("serialises");
    assert_eq!(SignedRoster::canonical_file(&pretty), Ok(file));
}

#[test]
fn malformed_files_name_the_problem() {
    let (roster, identities) = genesis();
    let good = signed_by(&roster, &pick(&identities, &[CL, CO, MX]));
    let check = |bytes: Vec<u8>, expected: &str| {
        let error = SignedRoster::verify_genesis(&bytes).expect_err("malformed");
        assert!(
            error.to_string().contains(expected),
            "{error} does not contain {expected:?}"
        );
    };
    check(b"not json".to_vec(), "roster file is malformed");
    check(
        edit_envelope(&good, |e| e["format"] = "concord-roster/v2".into()),
        "\"concord-roster/v2\" is not supported",
    );
    check(
        edit_envelope(&good, |e| e["extra"] = 1.into()),
        "unknown field `extra`",
    );
    check(
        edit_envelope(&good, |e| e["roster"] = "%%%".into()),
        "field roster is invalid: not canonical base64",
    );
    check(
        edit_envelope(&good, |e| e["signatures"][0]["key_id"] = "ABCDEF01".into()),
        "field signatures.key_id is invalid",
    );
    check(
        edit_envelope(&good, |e| e["signatures"][0]["signature"] = "AAAA".into()),
        "field signatures.signature is invalid",
    );
    // 64 bytes end in "==" after a character with 4 padding bits: setting
    // one leaves the bytes a lenient decoder returns unchanged.
    check(
        edit_envelope(&good, |e| {
            let signature = e["signatures"][0]["signature"].as_str().expect("string");
            const ALPHABET: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut text = signature.as_bytes().to_vec();
            let last = text.len() - 3;
            let value = ALPHABET
                .iter()
                .position(|&c| c == text[last])
                .expect("base64");
            text[last] = ALPHABET[value ^ 1];
            e["signatures"][0]["signature"] = String::from_utf8(text).expect("ascii").into();
        }),
        "field signatures.signature is invalid: must be canonical base64",
    );
    check(
        edit_envelope(&good, |e| {
            let mut roster_json = serde_json::to_value(&roster).expect("serialises");
            roster_json["members"][0]["nickname"] = "x".into();
            e["roster"] = BASE64
                .encode(serde_json::to_vec(&roster_json).expect("serialises"))
                .into();
        }),
        "unknown field `nickname`",
    );
    check(
        edit_envelope(&good, |e| {
            let mut roster_json = serde_json::to_value(&roster).expect("serialises");
            roster_json["members"][0]["country"] = "XX".into();
            e["roster"] = BASE64
                .encode(serde_json::to_vec(&roster_json).expect("serialises"))
                .into();
        }),
        "not an ISO 3166-1 alpha-2 country",
    );
    check(vec![b' '; 2 * 1024 * 1024], "more than the 1048576 allowed");
}

fn rotated_update(roster: &Roster) -> (Roster, AgencyIdentity) {
    let mut update = roster.next();
    let mx_new = identity("mx-se", 99);
    update
        .rotate_key(&member_id("mx-se"), note_vkey(&mx_new), 1000)
        .expect("rotation fits");
    (update, mx_new)
}

#[test]
fn update_signed_by_previous_majority_verifies() {
    let (roster, identities) = genesis();
    let (update, _) = rotated_update(&roster);
    // Mexico approves its own rotation with the key the previous roster knows.
    let bytes = signed_by(&update, &pick(&identities, &[MX, PE, BR]));
    assert_eq!(SignedRoster::verify_update(&bytes, &roster), Ok(update));
}

#[test]
fn update_counts_only_previous_members() {
    let (roster, identities) = genesis();
    let mut update = roster.next();
    let ar = identity("ar-cancilleria", 40);
    update
        .add_member(member(&ar, "Cancillería Argentina", "AR", Role::Member, 8))
        .expect("new member fits");
    // The newcomer is a member of the new roster but not of the previous one.
    let bytes = signed_by(&update, &[&ar, &identities[CL], &identities[MX]]);
    assert_eq!(
        SignedRoster::verify_update(&bytes, &roster),
        not_enough(3, 2)
    );
    let bytes = signed_by(
        &update,
        &[
            &identities[UN],
            &identities[WCO],
            &identities[CL],
            &identities[MX],
        ],
    );
    assert_eq!(
        SignedRoster::verify_update(&bytes, &roster),
        not_enough(3, 2)
    );
    let bytes = signed_by(
        &update,
        &[&ar, &identities[CL], &identities[MX], &identities[CO]],
    );
    assert_eq!(SignedRoster::verify_update(&bytes, &roster), Ok(update));
}

#[test]
fn update_needs_the_previous_current_keys() {
    let (roster, identities) = genesis();
    let (update, mx_new) = rotated_update(&roster);
    let bytes = signed_by(&update, &pick(&identities, &[MX, PE, BR]));
    let update = SignedRoster::verify_update(&bytes, &roster).expect("approved");
    // From version 3 on, Mexico's approval counts only with its new key.
    let mut third = update.next();
    third
        .remove_member(&member_id("wco"))
        .expect("observer can leave");
    let with_old_key = signed_by(&third, &[&identities[MX], &identities[PE], &identities[BR]]);
    assert_eq!(
        SignedRoster::verify_update(&with_old_key, &update),
        not_enough(3, 2)
    );
    let with_new_key = signed_by(&third, &[&mx_new, &identities[PE], &identities[BR]]);
    assert_eq!(
        SignedRoster::verify_update(&with_new_key, &update),
        Ok(third)
    );
}

#[test]
fn update_version_and_federation_must_follow() {
    let (roster, identities) = genesis();
    let signers = pick(&identities, &[CL, CO, MX]);
    let check = |update: Roster, expected: RosterError| {
        let bytes = signed_by(&update, &signers);
        assert_eq!(SignedRoster::verify_update(&bytes, &roster), Err(expected));
    };
    check(
        roster.clone(),
        RosterError::WrongVersion {
            expected: 2,
            found: 1,
        },
    );
    check(
        roster.next().next(),
        RosterError::WrongVersion {
            expected: 2,
            found: 3,
        },
    );
    let mut other = roster.next();
    other.federation = "andean-community".to_owned();
    for member in &mut other.members {
        member.origin = format!("andean-community.concord/{}", member.id);
        for key in &mut member.keys {
            key.vkey = VerifierKey::note(&member.origin, *key.vkey.key()).expect("valid");
        }
    }
    check(
        other,
        RosterError::WrongFederation {
            expected: FEDERATION.to_owned(),
            found: "andean-community".to_owned(),
        },
    );
}

#[test]
fn rotation_moves_authority_at_from_index() {
    let (roster, identities) = genesis();
    let (update, mx_new) = rotated_update(&roster);
    let mx = origin("mx-se");
    let old = identities[MX].log_public_key();
    let new = mx_new.log_public_key();
    for (index, expected) in [(0, old), (999, old), (1000, new), (u64::MAX, new)] {
        assert_eq!(
            update.authorised_key(&mx, index),
            Ok(expected),
            "index {index}"
        );
    }
    assert_eq!(update.checkpoint_verifiers(&as_origin(&mx)).len(), 2);
    let member = update.member(&member_id("mx-se")).expect("present");
    assert_eq!(member.current_key().map(|key| *key.vkey.key()), Some(new));
}

#[test]
fn rotation_rejects_nonsense() {
    let (roster, _) = genesis();
    let mx = member_id("mx-se");
    let (mut update, mx_new) = rotated_update(&roster);
    let before = update.clone();
    let newer = note_vkey(&identity("mx-se", 98));
    assert!(matches!(
        update.rotate_key(&mx, newer.clone(), 1000),
        Err(RosterError::BadRotation { .. })
    ));
    assert!(matches!(
        update.rotate_key(&mx, newer.clone(), 5),
        Err(RosterError::BadRotation { .. })
    ));
    assert!(matches!(
        update.rotate_key(&mx, newer.clone(), u64::MAX),
        Err(RosterError::NumberTooLarge { .. })
    ));
    assert!(matches!(
        update.rotate_key(&mx, note_vkey(&mx_new), 2000),
        Err(RosterError::DuplicateKey { .. })
    ));
    assert_eq!(
        update.rotate_key(&member_id("ar-cancilleria"), newer.clone(), 2000),
        Err(RosterError::UnknownMember(member_id("ar-cancilleria")))
    );
    // A key named for another origin, and a witness key, are not log keys.
    let misnamed = VerifierKey::note(&origin("pe-mincetur"), *newer.key()).expect("valid");
    assert!(matches!(
        update.rotate_key(&mx, misnamed, 2000),
        Err(RosterError::BadKey { .. })
    ));
    assert!(matches!(
        update.rotate_key(&mx, newer.to_witness(), 2000),
        Err(RosterError::BadKey { .. })
    ));
    assert_eq!(update, before, "failed changes leave the roster as it was");
}

#[test]
fn revoked_key_is_refused_from_its_revocation_index() {
    let (roster, identities) = genesis();
    let (mut update, mx_new) = rotated_update(&roster);
    let mx_id = member_id("mx-se");
    let mx = origin("mx-se");
    let old = identities[MX].log_public_key();
    let old_key_id = note_vkey(&identities[MX]).key_id();
    // The old key leaked: everything it signed from index 500 on is refused.
    update
        .revoke_key(&mx_id, old_key_id, 500)
        .expect("known key");
    assert_eq!(update.authorised_key(&mx, 499), Ok(old));
    assert!(matches!(
        update.authorised_key(&mx, 500),
        Err(RosterError::KeyRevoked { index: 500, .. })
    ));
    assert!(matches!(
        update.authorised_key(&mx, 999),
        Err(RosterError::KeyRevoked { .. })
    ));
    assert_eq!(
        update.authorised_key(&mx, 1000),
        Ok(mx_new.log_public_key())
    );
    let verifiers = update.checkpoint_verifiers(&as_origin(&mx));
    assert_eq!(verifiers.len(), 1);
    assert_eq!(verifiers[0].key, mx_new.log_public_key());
    assert_eq!(
        update.revoke_key(&mx_id, old_key_id, 100),
        Err(RosterError::AlreadyRevoked {
            member: mx_id.clone(),
            key_id: hex(&old_key_id),
        })
    );
    assert!(matches!(
        update.revoke_key(&mx_id, [0, 1, 2, 3], 100),
        Err(RosterError::UnknownKey { .. })
    ));
    // The new key revoked in full: Mexico cannot publish until it rotates again.
    update
        .revoke_key(&mx_id, note_vkey(&mx_new).key_id(), 0)
        .expect("known key");
    assert!(matches!(
        update.authorised_key(&mx, 1000),
        Err(RosterError::KeyRevoked { .. })
    ));
    assert!(update.checkpoint_verifiers(&as_origin(&mx)).is_empty());
    let member = update.member(&mx_id).expect("present");
    assert!(member.current_key().is_none());
    update
        .rotate_key(&mx_id, note_vkey(&identity("mx-se", 97)), 1200)
        .expect("fits after the revoked keys");
    assert!(matches!(
        update.authorised_key(&mx, 1100),
        Err(RosterError::KeyRevoked { .. })
    ));
    assert!(update.authorised_key(&mx, 1200).is_ok());
}

#[test]
fn authorised_key_errors() {
    let (mut roster, _) = genesis();
    assert_eq!(
        roster.authorised_key("pacific-alliance.concord/ar", 0),
        Err(RosterError::UnknownOrigin(
            "pacific-alliance.concord/ar".to_owned()
        ))
    );
    assert_eq!(
        roster.authorised_key(&origin("un1540"), 0),
        Err(RosterError::ObserverCannotPublish(member_id("un1540")))
    );
    let peru = roster
        .members
        .iter_mut()
        .find(|m| m.id.as_str() == "pe-mincetur")
        .expect("present");
    peru.keys[0].first_index = 10;
    assert_eq!(
        roster.authorised_key(&origin("pe-mincetur"), 9),
        Err(RosterError::NoKeyAtIndex {
            member: member_id("pe-mincetur"),
            index: 9
        })
    );
}

#[test]
fn lookups() {
    let (roster, identities) = genesis();
    assert_eq!(
        roster.member(&member_id("co-mincit")).map(|m| m.role),
        Some(Role::Member)
    );
    assert_eq!(
        roster
            .member_by_origin(&origin("wco"))
            .map(|m| m.id.as_str()),
        Some("wco")
    );
    assert_eq!(
        roster
            .member_by_peer_id("12D3KooWTestPeer3")
            .map(|m| m.id.as_str()),
        Some("mx-se")
    );
    assert!(roster.member_by_peer_id("12D3KooWNobody").is_none());
    let witness_keys = roster.witness_keys("pacific-alliance.concord/nobody");
    assert_eq!(witness_keys.len(), 7);
    for ((id, vkey), signer) in witness_keys.iter().zip(&identities) {
        assert_eq!(id, &signer.id);
        assert_eq!(vkey.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(vkey.name(), origin(id.as_str()));
        assert_eq!(*vkey.key(), signer.log_public_key());
    }
    assert!(
        roster
            .checkpoint_verifiers(&as_origin("pacific-alliance.concord/nobody"))
            .is_empty()
    );
}

#[test]
fn add_and_remove_members() {
    let (roster, _) = genesis();
    let mut update = roster.next();
    let ar = identity("ar-cancilleria", 40);
    let ar_member = member(&ar, "Cancillería Argentina", "AR", Role::Member, 8);
    update.add_member(ar_member.clone()).expect("fits");
    assert_eq!(update.n_members(), 6);
    assert_eq!(update.required_signatures(), 4);
    assert_eq!(
        update.add_member(ar_member.clone()),
        Err(RosterError::MemberExists(ar.id.clone()))
    );
    let mut same_peer = member(&identity("uy-mrree", 41), "Uruguay", "UY", Role::Member, 9);
    same_peer.peer_id = ar_member.peer_id.clone();
    assert_eq!(
        update.add_member(same_peer),
        Err(RosterError::DuplicatePeerId(ar_member.peer_id.clone()))
    );
    assert_eq!(update.remove_member(&ar.id), Ok(ar_member));
    assert_eq!(
        update.remove_member(&ar.id).map(|_| ()),
        Err(RosterError::UnknownMember(ar.id.clone()))
    );

    // The last member cannot leave, and a fixed threshold must stay reachable.
    let mut shrinking = roster.next();
    shrinking.policy.threshold = Threshold::AtLeast(5);
    assert_eq!(
        shrinking.remove_member(&member_id("br-secex")).map(|_| ()),
        Err(RosterError::BadThreshold {
            at_least: 5,
            n_members: 4
        })
    );
    let mut observers_only = roster.next();
    for id in ["cl-subrei", "co-mincit", "mx-se", "pe-mincetur"] {
        observers_only
            .remove_member(&member_id(id))
            .expect("members left");
    }
    assert_eq!(
        observers_only
            .remove_member(&member_id("br-secex"))
            .map(|_| ()),
        Err(RosterError::NoMembers)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn validation_table() {
    let (roster, _) = genesis();
    let check = |edit: &dyn Fn(&mut Roster), expected: &str| {
        let mut broken = roster.clone();
        edit(&mut broken);
        let error = broken.validate().expect_err(expected);
        assert!(
            error.to_string().contains(expected),
            "{error:?} does not contain {expected:?}"
        );
        assert!(SignedRoster::new(&broken).is_err());
    };
    check(
        &|r| r.federation = "Pacific".into(),
        "federation \"Pacific\" is invalid",
    );
    check(
        &|r| r.federation = String::new(),
        "federation \"\" is invalid",
    );
    check(
        &|r| r.federation = "a".repeat(65),
        "is invalid: must be 1 to 64",
    );
    check(&|r| r.version = 0, "version must be at least 1");
    check(
        &|r| r.version = 1 << 53,
        "version is 9007199254740992, more than 9007199254740991",
    );
    check(
        &|r| r.members[0].keys[0].first_index = u64::MAX,
        "first_index is 18446744073709551615",
    );
    check(
        &|r| r.members[0].keys[0].last_index = Some(1 << 60),
        "last_index is 1152921504606846976",
    );
    check(
        &|r| r.policy.threshold = Threshold::AtLeast(1 << 53),
        "at_least is 9007199254740992",
    );
    check(
        &|r| r.policy.threshold = Threshold::AtLeast(0),
        "threshold at_least 0 is invalid",
    );
    check(
        &|r| r.policy.threshold = Threshold::AtLeast(6),
        "threshold at_least 6 is invalid",
    );
    check(
        &|r| r.members.retain(|m| m.role == Role::Observer),
        "no participant with role member",
    );
    check(
        &|r| r.members.push(r.members[0].clone()),
        "member cl-subrei appears twice",
    );
    check(
        &|r| r.members[1].peer_id = r.members[0].peer_id.clone(),
        "peer id 12D3KooWTestPeer1 is used by two",
    );
    check(
        &|r| r.members[1].origin = r.members[0].origin.clone(),
        "must be \"pacific-alliance.concord/co-mincit\"",
    );
    check(
        &|r| r.members[0].origin = "cl-subrei".into(),
        "origin \"cl-subrei\" must be",
    );
    check(&|r| r.members[0].name = " ".into(), "field name is invalid");
    check(
        &|r| r.members[0].name = "a\nb".into(),
        "field name is invalid: holds a control character",
    );
    check(
        &|r| r.members[0].peer_id = "12D3KooW0OIl".into(),
        "field peer_id is invalid",
    );
    check(
        &|r| r.members[0].peer_id = String::new(),
        "field peer_id is invalid",
    );
    check(
        &|r| r.members[0].peer_id = "1".repeat(129),
        "field peer_id is invalid",
    );
    check(
        &|r| r.members[0].addrs = vec!["/ip4/10.0.0.1/tcp/1".into(); 17],
        "more than 16 addresses",
    );
    check(
        &|r| r.members[0].addrs = vec!["10.0.0.1:4001".into()],
        "is not a multiaddr",
    );
    check(
        &|r| r.members[0].addrs = vec![format!("/dns4/{}", "a".repeat(300))],
        "is not a multiaddr",
    );
    check(&|r| r.members[0].keys.clear(), "field keys is invalid");
    check(
        &|r| {
            let key = LogKey::open(note_vkey(&identity("cl-subrei", 50)), 10);
            r.members[0].keys.push(key);
        },
        "more than one open key",
    );
    check(
        &|r| {
            r.members[0].keys[0].last_index = Some(20);
            r.members[0]
                .keys
                .push(LogKey::open(note_vkey(&identity("cl-subrei", 50)), 20));
        },
        "are valid for overlapping log indexes",
    );
    check(
        &|r| {
            r.members[0].keys[0].last_index = Some(20);
            let mut closed = LogKey::open(note_vkey(&identity("cl-subrei", 50)), 5);
            closed.last_index = Some(7);
            r.members[0].keys.push(closed);
        },
        "are valid for overlapping log indexes",
    );
    check(
        &|r| {
            r.members[0].keys[0].first_index = 10;
            r.members[0].keys[0].last_index = Some(9);
        },
        "last_index is before first_index",
    );
    check(
        &|r| {
            let witness = r.members[0].keys[0].vkey.to_witness();
            r.members[0].keys[0].vkey = witness;
        },
        "algorithm 0x04 is not an Ed25519 note key",
    );
    check(
        &|r| r.members[0].keys[0].vkey = r.members[1].keys[0].vkey.clone(),
        "key name \"pacific-alliance.concord/co-mincit\" is not the origin",
    );
    check(
        &|r| {
            let mut again = r.members[0].keys[0].clone();
            r.members[0].keys[0].last_index = Some(5);
            again.first_index = 6;
            r.members[0].keys.push(again);
        },
        "is already in the roster",
    );
}

#[test]
fn revoked_keys_may_share_open_ends() {
    let (mut roster, _) = genesis();
    // A key revoked in full covers nothing, so it overlaps nothing.
    let mut dead = LogKey::open(note_vkey(&identity("cl-subrei", 50)), 0);
    dead.revoked = true;
    roster.members[0].keys.push(dead);
    assert_eq!(roster.validate(), Ok(()));
}

#[test]
fn roster_json_shape() {
    let (roster, _) = genesis();
    let json = serde_json::to_value(&roster).expect("serialises");
    assert_eq!(json["policy"]["threshold"], "majority");
    assert_eq!(json["members"][5]["role"], "observer");
    assert_eq!(json["members"][2]["country"], "MX");
    assert_eq!(
        json["members"][2]["keys"][0]["last_index"],
        serde_json::Value::Null
    );
    let vkey = json["members"][2]["keys"][0]["vkey"]
        .as_str()
        .expect("a string");
    assert!(
        vkey.starts_with("pacific-alliance.concord/mx-se+"),
        "{vkey}"
    );
    let mut at_least = roster.clone();
    at_least.policy.threshold = Threshold::AtLeast(2);
    let json = serde_json::to_value(&at_least).expect("serialises");
    assert_eq!(
        json["policy"]["threshold"],
        serde_json::json!({"at_least": 2})
    );
    let back: Roster = serde_json::from_value(json).expect("parses");
    assert_eq!(back, at_least);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedRoster::verify_genesis(&bytes);
        }

        /// Changing any one byte of an approved file either breaks it or
        /// leaves the very same roster: never a different approved roster.
        #[test]
        fn one_changed_byte_never_yields_another_roster(position in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (roster, identities) = genesis();
            let mut bytes = signed_by(&roster, &pick(&identities, &[CL, CO, MX]));
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            if let Ok(verified) = SignedRoster::verify_genesis(&bytes) {
                prop_assert_eq!(verified, roster);
            }
        }
    }
}

#[test]
fn key_lookup_for_the_protocol() {
    let (roster, identities) = genesis();
    let (mut update, mx_new) = rotated_update(&roster);
    update
        .revoke_key(
            &member_id("mx-se"),
            note_vkey(&identities[MX]).key_id(),
            500,
        )
        .expect("known key");
    let mx = as_origin(&origin("mx-se"));
    let un = as_origin(&origin("un1540"));
    let nobody = as_origin("pacific-alliance.concord/nobody");
    assert_eq!(
        update.entry_key(&mx, 10),
        Ok(identities[MX].log_public_key())
    );
    assert_eq!(update.entry_key(&mx, 1000), Ok(mx_new.log_public_key()));
    assert_eq!(
        update.entry_key(&mx, 600),
        Err(KeyRefusal::Revoked {
            origin: mx.clone(),
            index: 600
        })
    );
    assert_eq!(
        update.entry_key(&un, 0),
        Err(KeyRefusal::Observer(un.clone()))
    );
    assert_eq!(
        update.entry_key(&nobody, 0),
        Err(KeyRefusal::UnknownOrigin(nobody.clone()))
    );
    let mut late = genesis().0;
    late.members[0].keys[0].first_index = 10;
    let cl = as_origin(&origin("cl-subrei"));
    assert_eq!(
        late.entry_key(&cl, 3),
        Err(KeyRefusal::NoKeyAtIndex {
            origin: cl,
            index: 3
        })
    );

    // Of Chile's log, the six other participants are witnesses, one
    // cosignature key each, named by their origins.
    let cl = as_origin(&origin("cl-subrei"));
    let witnesses = roster.witnesses(&cl);
    assert_eq!(witnesses.len(), 6);
    for (witness, identity) in witnesses.iter().zip(&identities[1..]) {
        assert_eq!(witness.name, origin(identity.id.as_str()));
        assert_eq!(witness.key, identity.log_public_key());
    }
    // Mexico's revoked key no longer cosigns; its new key does.
    let names: Vec<_> = update
        .witnesses(&cl)
        .into_iter()
        .filter(|w| w.name == origin("mx-se"))
        .collect();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].key, mx_new.log_public_key());
    // An observer keeps no log: no key signs a checkpoint of its origin.
    assert!(update.checkpoint_verifiers(&un).is_empty());
}

/// The vectors of PROTOCOL.md §10 for who signs and cosigns a checkpoint:
/// the log's own cosignature is no witness's, and an observer's origin has
/// no checkpoint a verifier accepts.
#[test]
fn the_checkpoint_vectors_of_the_witness_and_observer_rules() {
    use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint, cosign};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/tests/data/vectors.json"
    );
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    // The vectors' log key (seed 07) is mx's; their witness key (seed 09)
    // is the observer un1540's.
    let mx = identity("mx", 7);
    let un = identity("un1540", 9);
    let roster = Roster {
        federation: FEDERATION.to_owned(),
        version: 1,
        policy: concord_keys::roster::Policy {
            threshold: Threshold::Majority,
        },
        members: vec![
            member(&mx, "Vector agency mx", "MX", Role::Member, 1),
            member(&un, "Vector agency un1540", "US", Role::Observer, 2),
        ],
    };
    let mx_origin = as_origin(&origin("mx"));
    let un_origin = as_origin(&origin("un1540"));

    let mut signed = SignedCheckpoint::parse(
        vectors["checkpoint_note"]
            .as_str()
            .expect("a note")
            .as_bytes(),
    )
    .expect("the vectors' checkpoint");
    let own = cosign(&signed, mx_origin.as_str(), &mx.log_key, 1_763_935_300);
    signed.add_cosignature(own).expect("room");
    let note = String::from_utf8(signed.to_bytes()).expect("UTF-8");
    assert_eq!(note, vectors["checkpoint_note_self_cosigned"]);
    let witnesses = roster.witnesses(&mx_origin);
    assert_eq!(witnesses.len(), 1, "only un1540 witnesses mx's log");
    assert_eq!(witnesses[0].verify(&signed), Ok(Some(1_763_935_300)));

    let root: concord_protocol::entry::Digest256 =
        serde_json::from_value(vectors["merkle"]["root_7"].clone()).expect("a hex root");
    let root = root.0;
    let observer = SignedCheckpoint::sign(Checkpoint::new(un_origin.clone(), 7, root), &un.log_key);
    let note = String::from_utf8(observer.to_bytes()).expect("UTF-8");
    assert_eq!(note, vectors["observer_checkpoint_note"]);
    assert!(roster.checkpoint_verifiers(&un_origin).is_empty());
    assert!(
        observer
            .verify(&un_origin, &roster.checkpoint_verifiers(&un_origin))
            .is_err()
    );
}
