//! Loopback ports for local federations.
//!
//! A port the OS hands out for `bind(0)` lies in the ephemeral range, the
//! same range outgoing connections take their source ports from. Between
//! choosing a node's port and the node binding it, the other nodes of the
//! federation are already dialling each other, and any of those dials may
//! take the chosen port, so the late node fails to start. Ports are
//! therefore drawn below the ephemeral range, where only explicit binds go,
//! and each is checked free for TCP and UDP (QUIC listens on the same
//! number) before it is handed out.
//!
//! A port is also never handed out twice within [`CLAIM_LIFETIME`] on one
//! machine: local federations are made by separate `concord testnet create`
//! processes (tests run several at once), which would otherwise each find
//! the same free port and hand it to two nodes, one of which then fails to
//! bind. A claim is a file named for the port in a directory of the temp
//! dir, created exclusively.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

/// Lowest port drawn: clear of the well-known and most registered services.
const FLOOR: u16 = 15_000;
/// Where Linux starts its ephemeral range unless configured otherwise.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;
const ATTEMPTS: usize = 1_000;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port free for TCP and UDP, outside the ephemeral range.
///
/// # Errors
/// No free port found after many draws, or no randomness from the OS.
pub fn free_port() -> anyhow::Result<u16> {
    let ceiling = ephemeral_start();
    // A range configured down to the floor leaves nothing to draw from; the
    // OS's own choice is then the best available.
    let draw_ourselves = ceiling > FLOOR + 1_000;
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..ATTEMPTS {
        let port = if draw_ourselves {
            let mut bytes = [0u8; 2];
            getrandom::fill(&mut bytes).context("drawing a port")?;
            FLOOR + u16::from_le_bytes(bytes) % (ceiling - FLOOR)
        } else {
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port()
        };
        if !handed_out.contains(&port) && is_free(port) && claim(&claims_dir(), port) {
            handed_out.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port after {ATTEMPTS} draws")
}

/// How long a claimed port stays another process's: ample time for a
/// federation to be created and its nodes started.
const CLAIM_LIFETIME: Duration = Duration::from_secs(600);

fn claims_dir() -> PathBuf {
    std::env::temp_dir().join("concord-ports")
}

/// Claims `port` on this machine: `false` when another claim younger than
/// [`CLAIM_LIFETIME`] holds it. Where no claim can be written (no temp dir),
/// every port is claimable, and only this process's own record guards it.
fn claim(dir: &Path, port: u16) -> bool {
    let path = dir.join(port.to_string());
    let create = || OpenOptions::new().write(true).create_new(true).open(&path);
    if std::fs::create_dir_all(dir).is_err() {
        return true;
    }
    match create() {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let stale = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > CLAIM_LIFETIME);
            // Of several processes removing one stale claim, the exclusive
            // create lets exactly one take the port.
            stale && std::fs::remove_file(&path).is_ok() && create().is_ok()
        }
        Err(_) => true,
    }
}

fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The first port of the ephemeral range, read from the kernel on Linux.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().expect("a port")).collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!(port >= FLOOR, "{port}");
            assert!(port < ephemeral_start(), "{port}");
            assert!(is_free(port), "{port} was handed out while bound");
        }
    }

    #[test]
    fn a_port_claimed_by_another_process_is_not_handed_out_until_the_claim_is_stale() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(claim(dir.path(), 20_001));
        assert!(!claim(dir.path(), 20_001), "a fresh claim holds the port");
        assert!(claim(dir.path(), 20_002), "another port is free to claim");
        let stale = SystemTime::now() - CLAIM_LIFETIME - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("20001"))
            .and_then(|f| f.set_modified(stale))
            .expect("age the claim");
        assert!(claim(dir.path(), 20_001), "a stale claim is taken over");
        assert!(!claim(dir.path(), 20_001), "and holds again");
    }
}
