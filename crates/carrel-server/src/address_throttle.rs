//! Failed guesses per client address (C2, R3): the server's own throttle,
//! in memory, beside the count per account in the database
//! (`carrel_store::attempts`).
//!
//! Why per address as well as per account: the account count stops the
//! guessing of one card's PIN, but not one PIN tried on card after card (9
//! of 40 demo cards opened with `1234` in 2.3 s), and on its own it lets a
//! stranger lock a patron out by guessing wrong ten times. So every failed
//! guess at a secret (a sign-in refused, a minor's card number refused) is
//! also counted against the address it came from, whatever the account;
//! past [`FAILED_GUESSES_PER_ADDRESS`] in the window
//! ([`carrel_store::attempts::THROTTLE_MINUTES`]), the address is refused
//! at once, before any hash or database work. A guess takes its place in
//! the count before it is checked and gives it back if it succeeds, so a
//! parallel burst cannot outrun the count either.
//!
//! Why a stranger cannot lock a patron out: the address limit (5) is below
//! the account limit (10), so a guesser at one address is stopped before
//! it can use up an account's attempts, and the patron, at their own
//! address, still has theirs: the account count never stops the patron
//! sooner than the address count stops the guesser. Locking an account
//! takes failures from at least two addresses, and there the lock is the
//! lesser harm: without it, a guesser with many addresses would have
//! unbounded guesses at a four-digit PIN. With several servers behind a
//! load balancer each counts on its own, so an address gets its
//! allowance at each; keep servers × 5 below 10, or pin clients.
//!
//! What counts as one address: an IPv4 address, or an IPv6 /64 network.
//! An IPv6 host picks any address in its /64 at will (privacy addresses
//! change daily), so counting single IPv6 addresses would count nothing;
//! a /64 is one customer's network. An IPv4-mapped IPv6 address counts as
//! its IPv4 address.
//!
//! Behind a reverse proxy every connection comes from the proxy. Its
//! `X-Forwarded-For` header is believed only if the operator names the
//! proxy (`carrel serve --trusted-proxy ADDRESS`): any client can send the
//! header, so believing it by default would give a guesser a new address
//! with every request. Without that setting, everyone behind a proxy is one
//! address, and shares its five failed guesses.
//!
//! Memory is bounded: at most [`TRACKED_ADDRESSES`] addresses with
//! failures in their window are tracked (an address whose guesses all
//! succeeded, or whose window has passed, takes no room). When all are
//! taken, new addresses share one overflow count with the same limit, so a
//! guesser with more addresses than that gains nothing more from them and
//! memory stays near 1 MiB; addresses already tracked are not affected.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use carrel_store::Error;

/// Failed guesses one address may make in the throttle window. Below
/// [`carrel_store::attempts::MAX_FAILED_SIGN_INS`], so that one address
/// cannot lock an account (see the module's documentation).
pub const FAILED_GUESSES_PER_ADDRESS: u32 = 5;

/// Addresses tracked at once, at most (each entry is a few dozen bytes).
pub const TRACKED_ADDRESSES: usize = 16_384;

const _: () = assert!(
    (FAILED_GUESSES_PER_ADDRESS as i64) < carrel_store::attempts::MAX_FAILED_SIGN_INS,
    "one address must not be able to lock an account by itself"
);

/// What the throttle counts as one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address: its network.
    V6Network(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(address: IpAddr) -> AddressKey {
        match address.to_canonical() {
            IpAddr::V4(v4) => AddressKey::V4(v4),
            IpAddr::V6(v6) => AddressKey::V6Network((v6.to_bits() >> 64) as u64),
        }
    }
}

/// The address a request comes from: the connection's peer, or, when the
/// peer is one of `trusted_proxies`, the address the proxy says it serves:
/// the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy (entries to its left were written by the client, and may be
/// anything). An entry that is not an address ends the walk at the last
/// proxy that wrote one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted_proxies.contains(&address.to_canonical());
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(address) = parse_forwarded(entry) else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// Failed guesses per address in the current window.
pub struct AddressThrottle {
    limit: u32,
    capacity: usize,
    window_seconds: i64,
    state: Mutex<State>,
}

struct State {
    tracked: HashMap<AddressKey, Window>,
    /// Shared by new addresses while every tracked place is taken.
    overflow: Window,
    /// When the tracked addresses were last swept for passed windows (at
    /// most once a second, so a full table costs one sweep a second, not
    /// one a request).
    swept_at: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    started_at: i64,
    failures: u32,
}

/// Where a guess's place was taken.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Tracked(AddressKey),
    Overflow,
}

/// One guess's place in its address's count. Consumed without
/// [`Reservation::give_back`], the guess stays counted as failed (so a
/// client that hangs up mid-check is charged, not let off).
#[must_use = "a reservation is settled by give_back or settle"]
pub struct Reservation {
    throttle: Arc<AddressThrottle>,
    slot: Slot,
    window_started_at: i64,
}

impl AddressThrottle {
    pub fn new() -> AddressThrottle {
        AddressThrottle::with_capacity(FAILED_GUESSES_PER_ADDRESS, TRACKED_ADDRESSES)
    }

    pub fn with_capacity(limit: u32, capacity: usize) -> AddressThrottle {
        AddressThrottle {
            limit,
            capacity,
            window_seconds: carrel_store::attempts::THROTTLE_MINUTES * 60,
            state: Mutex::new(State {
                tracked: HashMap::new(),
                overflow: Window::default(),
                swept_at: i64::MIN,
            }),
        }
    }

    /// Counts one guess from `address` as failed before it is checked, if
    /// the address has guesses left in its window (`now` in Unix seconds,
    /// from the store's clock); `None` if it has used them up.
    pub fn reserve(self: &Arc<Self>, address: AddressKey, now: i64) -> Option<Reservation> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let slot = self.slot_for(&mut state, address, now);
        let window = state.window(slot);
        if now >= window.started_at + self.window_seconds {
            *window = Window {
                started_at: now,
                failures: 0,
            };
        }
        if window.failures >= self.limit {
            return None;
        }
        window.failures += 1;
        Some(Reservation {
            throttle: self.clone(),
            slot,
            window_started_at: window.started_at,
        })
    }

    /// The address's own place if it is tracked or there is room, else the
    /// shared overflow.
    fn slot_for(&self, state: &mut State, address: AddressKey, now: i64) -> Slot {
        if state.tracked.contains_key(&address) {
            return Slot::Tracked(address);
        }
        if state.tracked.len() >= self.capacity && now > state.swept_at {
            let window_seconds = self.window_seconds;
            state
                .tracked
                .retain(|_, w| now < w.started_at + window_seconds);
            state.swept_at = now;
        }
        if state.tracked.len() < self.capacity {
            state.tracked.insert(
                address,
                Window {
                    started_at: now,
                    failures: 0,
                },
            );
            Slot::Tracked(address)
        } else {
            Slot::Overflow
        }
    }

    /// Addresses tracked now (for tests of the memory bound).
    pub fn tracked(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tracked
            .len()
    }
}

impl Default for AddressThrottle {
    fn default() -> Self {
        AddressThrottle::new()
    }
}

impl State {
    fn window(&mut self, slot: Slot) -> &mut Window {
        match slot {
            Slot::Tracked(address) => self.tracked.entry(address).or_default(),
            Slot::Overflow => &mut self.overflow,
        }
    }
}

impl Reservation {
    /// Returns the place: the guess succeeded, or was never checked.
    pub fn give_back(self) {
        let mut state = self
            .throttle
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let window = match self.slot {
            Slot::Tracked(address) => state.tracked.get_mut(&address),
            Slot::Overflow => Some(&mut state.overflow),
        };
        // A window that has started again since owes this guess nothing.
        let Some(window) = window.filter(|w| w.started_at == self.window_started_at) else {
            return;
        };
        window.failures = window.failures.saturating_sub(1);
        if let (0, Slot::Tracked(address)) = (window.failures, self.slot) {
            state.tracked.remove(&address);
        }
    }

    /// Keeps the place for a refused guess ([`Error::is_failed_guess`]) and
    /// gives it back for anything else: a success, or an answer that
    /// checked nothing (the server busy, a malformed request).
    pub fn settle<T>(self, outcome: &Result<T, Error>) {
        match outcome {
            Err(e) if e.is_failed_guess() => {}
            _ => self.give_back(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn v4(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_ipv6_network_is_one_address_and_mapped_ipv4_is_ipv4() {
        let a = AddressKey::from(v4("2001:db8:1:2::1"));
        let b = AddressKey::from(v4("2001:db8:1:2:ffff:1234:5678:9abc"));
        let other = AddressKey::from(v4("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(
            AddressKey::from(v4("::ffff:192.0.2.7")),
            AddressKey::from(v4("192.0.2.7"))
        );
        assert_ne!(
            AddressKey::from(v4("192.0.2.7")),
            AddressKey::from(v4("192.0.2.8"))
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.9, 203.0.113.5"),
        );
        let proxy = v4("127.0.0.1");
        // Not configured: the header is anyone's to send.
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        // Configured: the right-most entry is what the proxy saw; the one
        // to its left was written by the client.
        assert_eq!(client_address(proxy, &headers, &[proxy]), v4("203.0.113.5"));
        // A client that is not the proxy cannot use the header.
        assert_eq!(
            client_address(v4("192.0.2.1"), &headers, &[proxy]),
            v4("192.0.2.1")
        );
        // Two proxies in a row: skip the inner one.
        let inner = v4("10.0.0.2");
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.9, 203.0.113.5, 10.0.0.2"),
        );
        assert_eq!(
            client_address(proxy, &headers, &[proxy, inner]),
            v4("203.0.113.5")
        );
        // Garbage ends the walk at the last proxy that wrote an address.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.5, not-an-address"),
        );
        assert_eq!(client_address(proxy, &headers, &[proxy]), proxy);
        // With a port, and IPv6 in brackets.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::7]:4711"),
        );
        assert_eq!(client_address(proxy, &headers, &[proxy]), v4("2001:db8::7"));
        // No header from the proxy: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn failed_guesses_are_limited_and_successes_given_back() {
        let throttle = Arc::new(AddressThrottle::with_capacity(3, 10));
        let me = AddressKey::from(v4("192.0.2.1"));
        for _ in 0..10 {
            throttle.reserve(me, 0).unwrap().give_back();
        }
        for _ in 0..3 {
            let _failed = throttle.reserve(me, 0).unwrap();
        }
        assert!(throttle.reserve(me, 100).is_none(), "used up");
        let other = AddressKey::from(v4("192.0.2.2"));
        assert!(throttle.reserve(other, 100).is_some(), "others unaffected");
        assert!(throttle.reserve(me, 15 * 60).is_some(), "a new window");
    }

    #[test]
    fn many_addresses_cannot_grow_the_table_or_escape_the_limit() {
        let throttle = Arc::new(AddressThrottle::with_capacity(2, 4));
        let mut allowed = 0;
        for n in 0..1000u32 {
            let address = AddressKey::from(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
            if let Some(failed) = throttle.reserve(address, 0) {
                let _ = failed;
                allowed += 1;
            }
        }
        assert_eq!(throttle.tracked(), 4);
        // Four tracked addresses with 1 failure each, then 2 in the
        // shared overflow: the other 994 addresses got nothing.
        assert_eq!(allowed, 4 + 2);
        // Once their windows pass, the places are taken anew.
        let late = AddressKey::from(v4("192.0.2.99"));
        assert!(throttle.reserve(late, 15 * 60).is_some());
        assert_eq!(throttle.tracked(), 1);
    }
}
