//! Homes for one agency (`concord init`), or for a whole local federation
//! with a roster every member signed (`concord testnet create`, the demo).

mod ports;

use std::path::PathBuf;

use anyhow::Context as _;
use concord_keys::roster::{LogKey, Member, Policy, Role, Roster, SignedRoster, Threshold};
use concord_keys::{AgencyIdentity, MemberId, Protection, VerifierKey};
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;

use ports::free_port;

use crate::home::{
    ApiConfig, ApiLimits, Config, ConsultationsConfig, Home, NetworkConfig, ReplicationConfig,
    RetentionConfig, ScreeningConfig, SyncConfig, WitnessConfig, create_private_dir,
};

/// Why a home or a federation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// An id, a country or a federation name that makes no participant, or
    /// a directory that already holds a home.
    #[error("{0}")]
    Refused(String),
    /// Keys, files or the roster could not be made or written.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A local federation to create: one home per id under `dir`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dir: PathBuf,
    /// Member ids; the first two letters name the country unless written
    /// `id:CC`.
    pub members: Vec<String>,
    /// Observer ids, `id:CC` for the seat's country.
    pub observers: Vec<String>,
    pub federation: String,
    /// Anti-entropy interval of every node, in milliseconds.
    pub sync_interval_ms: u64,
}

/// Display names of the seed scenario's agencies.
fn display_name(id: &str) -> String {
    match id {
        "cl" => "Chile — Subsecretaría de Relaciones Económicas Internacionales".into(),
        "co" => "Colombia — Ministerio de Comercio, Industria y Turismo".into(),
        "mx" => "México — Secretaría de Economía".into(),
        "pe" => "Perú — Ministerio de la Producción".into(),
        "br" => "Brasil — Ministério das Relações Exteriores".into(),
        "un1540" => "UN Security Council 1540 Committee — Group of Experts".into(),
        "wco" => "World Customs Organization".into(),
        other => format!("Agency {other}"),
    }
}

/// The public facts of a new agency, as the roster needs them.
#[derive(Debug, serde::Serialize)]
pub struct InitFacts {
    pub id: String,
    pub home: String,
    pub origin: String,
    pub verifier_key: String,
    pub witness_key: String,
    pub peer_id: String,
    pub addrs: Vec<String>,
    pub api: String,
}

struct NewHome {
    home: Home,
    identity: AgencyIdentity,
    member: Member,
    config: Config,
}

/// What a new home is for.
pub struct HomeSpec<'a> {
    pub dir: &'a std::path::Path,
    pub id: &'a str,
    pub name: &'a str,
    pub country: &'a str,
    pub role: Role,
    pub federation: &'a str,
    /// (p2p, api) ports; 0 picks a free one.
    pub ports: (u16, u16),
    pub sync: SyncConfig,
}

fn make_home(spec: &HomeSpec<'_>, protection: Protection<'_>) -> Result<NewHome, TestnetError> {
    let HomeSpec {
        dir,
        id,
        name,
        country,
        role,
        federation,
        ports,
        ref sync,
    } = *spec;
    let home = Home::new(dir);
    if home.config_path().exists() || home.key_path().exists() {
        return Err(TestnetError::Refused(format!(
            "{} already holds a Concord home; refusing to overwrite it",
            dir.display()
        )));
    }
    let member_id =
        MemberId::new(id).map_err(|e| TestnetError::Refused(format!("member id {id:?}: {e}")))?;
    let country = Country::try_from(country.to_owned())
        .map_err(|e| TestnetError::Refused(format!("country: {e}")))?;
    let origin = Origin::for_member(federation, id).map_err(|e| {
        TestnetError::Refused(format!("federation and id make no valid origin: {e}"))
    })?;
    let identity = AgencyIdentity::generate(member_id.clone()).context("generating keys")?;
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed)
        .context("transport key")?;
    let peer_id = keypair.public().to_peer_id().to_string();
    let p2p_port = if ports.0 == 0 { free_port()? } else { ports.0 };
    let api_port = if ports.1 == 0 { free_port()? } else { ports.1 };
    let addrs = vec![
        format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
        format!("/ip4/127.0.0.1/udp/{p2p_port}/quic-v1"),
    ];
    let config = Config {
        id: id.to_owned(),
        federation: federation.to_owned(),
        network: NetworkConfig {
            listen: addrs.clone(),
            mdns: false,
        },
        api: ApiConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], api_port)),
            limits: ApiLimits::default(),
            metrics_open: false,
        },
        witness: WitnessConfig {
            cosign: role == Role::Observer,
            required_cosignatures: 0,
        },
        sync: sync.clone(),
        retention: RetentionConfig::default(),
        replication: ReplicationConfig::default(),
        screening: ScreeningConfig::default(),
        consultations: ConsultationsConfig::default(),
    };
    create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    concord_keys::keyfile::write_key_file(&home.key_path(), &identity, protection)
        .with_context(|| format!("writing {}", home.key_path().display()))?;
    home.write_config(&config)?;
    home.create_token()?;
    let vkey =
        VerifierKey::note(origin.as_str(), identity.log_public_key()).context("verifier key")?;
    let member = Member {
        id: member_id,
        name: name.to_owned(),
        country,
        role,
        origin: origin.to_string(),
        keys: vec![LogKey::open(vkey, 0)],
        peer_id,
        addrs,
    };
    Ok(NewHome {
        home,
        identity,
        member,
        config,
    })
}

fn facts(home: &Home, member: &Member, config: &Config) -> InitFacts {
    let vkey = &member.keys[0].vkey;
    InitFacts {
        id: member.id.to_string(),
        home: home.dir.display().to_string(),
        origin: member.origin.clone(),
        verifier_key: vkey.to_string(),
        witness_key: vkey.to_witness().to_string(),
        peer_id: member.peer_id.clone(),
        addrs: member.addrs.clone(),
        api: config.api.listen.to_string(),
    }
}

/// A new home for one agency: the facts a roster needs, and its roster
/// entry.
///
/// # Errors
/// Bad ids or countries, an existing home, a file that cannot be written.
pub fn init(
    spec: &HomeSpec<'_>,
    protection: Protection<'_>,
) -> Result<(InitFacts, Member), TestnetError> {
    let new = make_home(spec, protection)?;
    Ok((facts(&new.home, &new.member, &new.config), new.member))
}

/// `id:CC`, or an id alone: the seat of a known international body, or else
/// the id's first two letters as the country.
fn split_id(spec: &str) -> (String, String) {
    match spec.split_once(':') {
        Some((id, cc)) => (id.to_owned(), cc.to_uppercase()),
        None => {
            let country = match spec {
                "un1540" => "US".to_owned(),
                "wco" => "BE".to_owned(),
                other => other.chars().take(2).collect::<String>().to_uppercase(),
            };
            (spec.to_owned(), country)
        }
    }
}

/// Creates the homes and installs the roster signed by every member.
///
/// # Errors
/// Any failure creating a home or the roster.
pub fn build(plan: &Plan) -> Result<Vec<NewHomeView>, TestnetError> {
    let mut homes = Vec::new();
    let specs = plan.members.iter().map(|s| (s, Role::Member)).chain(
        plan.observers
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (s, Role::Observer)),
    );
    for (spec, role) in specs {
        let (id, country) = split_id(spec);
        let dir = plan.dir.join(&id);
        let name = display_name(&id);
        let spec = HomeSpec {
            dir: &dir,
            id: &id,
            name: &name,
            country: &country,
            role,
            federation: &plan.federation,
            ports: (0, 0),
            sync: SyncConfig {
                interval_ms: plan.sync_interval_ms,
            },
        };
        homes.push(make_home(&spec, Protection::InsecurePlaintext)?);
    }
    let roster = Roster {
        federation: plan.federation.clone(),
        version: 1,
        policy: Policy {
            threshold: Threshold::Majority,
        },
        members: homes.iter().map(|h| h.member.clone()).collect(),
    };
    let mut signed = SignedRoster::new(&roster).context("signing the roster")?;
    for new in homes.iter().filter(|h| h.member.role == Role::Member) {
        signed.sign(&new.identity);
    }
    let bytes = signed.to_bytes();
    for new in &homes {
        new.home.install_roster(&bytes)?;
    }
    Ok(homes.into_iter().map(NewHomeView::from).collect())
}

/// The public part of a new home.
pub struct NewHomeView {
    pub home: Home,
    pub member: Member,
    pub config: Config,
}

impl NewHomeView {
    /// The facts a roster needs, as `init` prints them.
    pub fn facts(&self) -> InitFacts {
        facts(&self.home, &self.member, &self.config)
    }
}

impl From<NewHome> for NewHomeView {
    fn from(n: NewHome) -> Self {
        Self {
            home: n.home,
            member: n.member,
            config: n.config,
        }
    }
}
