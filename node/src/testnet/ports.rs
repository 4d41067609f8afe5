//! Loopback ports for local federations.
//!
//! A port the OS hands out for `bind(0)` lies in the ephemeral range, the
//! same range outgoing connections take their source ports from. Between
//! choosing a node's port and the node binding it, the other nodes of the
//! federation are already dialling each other, and any of those dials may
//! take the chosen port, so the late node fails to start. Ports are
//! therefore drawn below the ephemeral range, where only explicit binds go,
//! and each is checked free for TCP and UDP (QUIC listens on the same
//! number) before it is handed out, never twice in one process.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::Mutex;

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
        if !handed_out.contains(&port) && is_free(port) {
            handed_out.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port after {ATTEMPTS} draws")
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
}
