//! `concord run`: wires the store, the own log's writer, the network task, the
//! node core and the HTTP API together, and takes them down in order.
//!
//! Shutdown: one cancellation token, created by the caller, stops every task;
//! each is awaited, and the store is flushed last.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use concord_keys::roster::Role;
use concord_protocol::origin::Origin;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::bundle::Exporter;
use crate::home::Home;
use crate::net::{self, NetConfig};
use crate::own_log::{ForkRisk, OwnLog};
use crate::publish::{self, Writer};
use crate::query::Queries;
use crate::replicate::{self, Core, Hints, SyncState, Witness};
use crate::store::Store;

/// Capacity of the queue from the network task to the node core.
const EVENT_QUEUE: usize = 1024;
/// Capacity of the queue of committed groups awaiting gossip.
const COMMITTED_QUEUE: usize = 256;

/// Runs the node of `home` until `shutdown` fires. With `fork_risk`
/// accepted, the own log is written from the store's head without first
/// confirming it with a peer ([`crate::own_log`]).
///
/// # Errors
/// Anything that stops the node from starting: config, keys, roster, a store
/// in use or corrupt, an address that cannot be bound.
pub async fn run(
    home: &Home,
    fork_risk: ForkRisk,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    home.check_permissions()?;
    let config = home.config()?;
    let identity = home.identity()?;
    let roster = Arc::new(home.roster()?);
    let me = roster
        .member(&identity.id)
        .with_context(|| {
            format!(
                "{} is not in roster version {}",
                identity.id, roster.version
            )
        })?
        .clone();
    let origin = Origin::new(&me.origin).context("own origin in the roster")?;
    let store = Store::open(&home.db_path()).context("opening the store")?;
    // Proofs read every log's hashes from memory, and screening every
    // denial's prepared versions; they are read in once, in the background,
    // so that the first proof or screening asked for does not wait.
    let cache_task = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            store.cache_hashes()?;
            store.warm_screening().map(drop)
        })
    };

    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.transport_seed)
        .context("transport key of the identity")?;
    if keypair.public().to_peer_id().to_string() != me.peer_id {
        bail!(
            "the identity's transport key does not match peer id {} in the roster",
            me.peer_id
        );
    }
    let mut allowed = HashMap::new();
    let mut bootstrap = Vec::new();
    for member in &roster.members {
        let Ok(peer) = member.peer_id.parse::<PeerId>() else {
            tracing::warn!(member = %member.id, "roster peer id does not parse; ignoring this member's connections");
            continue;
        };
        allowed.insert(peer, member.id.to_string());
        if member.id != me.id {
            for addr in &member.addrs {
                match addr.parse::<Multiaddr>() {
                    Ok(addr) => bootstrap.push((peer, addr)),
                    Err(e) => {
                        tracing::warn!(member = %member.id, %addr, error = %e, "roster address does not parse")
                    }
                }
            }
        }
    }
    let listen = config
        .network
        .listen
        .iter()
        .map(|a| {
            a.parse::<Multiaddr>()
                .with_context(|| format!("listen address {a:?} in config.toml"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let net_config = NetConfig {
        keypair,
        listen,
        bootstrap,
        allowed,
        federation: roster.federation.clone(),
        mdns: config.network.mdns,
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let node_metrics = crate::metrics::NodeMetrics::register(&mut registry);
    let (net_handle, net_task) = net::spawn(net_config, events_tx, shutdown.clone(), &mut registry)
        .context("starting the network")?;

    let (committed_tx, committed_rx) = mpsc::channel(COMMITTED_QUEUE);
    let own_log = (me.role == Role::Member)
        .then(|| OwnLog::running(origin.clone(), &roster, me.id.as_str(), fork_risk));
    let (publisher, writer_task) = if let Some(own_log) = &own_log {
        let writer = Writer {
            store: store.clone(),
            origin: origin.clone(),
            country: me.country,
            key: identity.log_key.clone(),
            clock: crate::clock::now,
            own_log: own_log.clone(),
            roster: roster.clone(),
        };
        let (publisher, task) = publish::spawn(writer, Some(committed_tx), shutdown.clone());
        (Some(publisher), Some(task))
    } else {
        (None, None)
    };

    let sync_state = Arc::new(Mutex::new(SyncState::default()));
    let (hints_tx, hints_rx) = Hints::channel();
    let witness = (config.witness.cosign || me.role == Role::Observer).then(|| Witness {
        name: me.origin.clone(),
        key: identity.log_key.clone(),
    });
    let core = Core {
        store: store.clone(),
        roster: roster.clone(),
        net: net_handle.clone(),
        witness,
        clock: crate::clock::now,
        sync_interval: Duration::from_millis(config.sync.interval_ms.max(100)),
        state: sync_state.clone(),
        hints: hints_tx,
        purge_after_days: config.retention.purge_after_days,
        headers_only: config.replication.headers_only,
        own_log: own_log.clone(),
        reader: (me.role, me.country),
        metrics: node_metrics.clone(),
    };
    let core_tasks = replicate::spawn(core, events_rx, committed_rx, hints_rx, shutdown.clone());

    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("binding the API to {}", config.api.listen))?;
    let api_state = ApiState {
        queries: Queries::of_home(store.clone(), home)?,
        publisher,
        own_log,
        net: Some(net_handle),
        sync: sync_state,
        tokens: crate::tokens::Tokens::open(home)?,
        metrics_open: config.api.metrics_open,
        shutdown: shutdown.clone(),
        metrics: node_metrics,
        registry: Arc::new(registry),
        home: home.clone(),
        exporter: Arc::new(Exporter::of_home(home, identity.log_key.clone())?),
    };
    crate::alerts::start(
        api_state.queries.clone(),
        config.screening.rescreen_days,
        shutdown.clone(),
    )?;
    tracing::info!(id = %me.id, %origin, api = %config.api.listen, "node running");
    api::serve(listener, api_state, &config.api.limits, shutdown.clone()).await;
    shutdown.cancel();

    for task in core_tasks {
        let _ = task.await;
    }
    let mut storage_failure = None;
    if let Some(task) = writer_task
        && let Ok(Err(why)) = task.await
    {
        storage_failure = Some(why);
    }
    let _ = net_task.await;
    if let Ok(Err(e)) = cache_task.await {
        tracing::warn!(error = %e, "caching the logs' hashes or preparing the screening index stopped early");
    }
    // Last: everything the tasks wrote is made durable before exit.
    if let Some(why) = storage_failure {
        return Err(crate::store::StoreError::Io(why))
            .context("the node stopped after the disk refused a write");
    }
    store.flush().await.context("final flush of the store")?;
    tracing::info!("node stopped cleanly");
    Ok(())
}
