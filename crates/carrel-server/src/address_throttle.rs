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
//! unbounded guesses at a four-digit PIN. Nor does the lock stop the
//! holder on a device they have signed in on before: a sign-in presenting
//! a known device's token (`carrel_store::known_devices`), confirmed by
//! the store, takes no place here nor in the account's count, and is
//! counted on the device instead; a token the store does not confirm is
//! throttled here like none. With several servers behind a
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
//! succeeded, or whose window has passed, takes no room), a few MiB. When
//! all places are taken, a new address takes the place of one whose
//! window has passed, or else of the address that guessed least recently
//! (a warning is logged, once every 10 s). A new address is never refused
//! for other addresses' failures: when new addresses shared one overflow
//! count, 16,389 failed sign-ins from as many addresses (IPv6 /64s are
//! cheap) refused every sign-in in the library, the Director's included.
//! A flood of addresses now evicts mostly itself, and an address it evicts
//! gets a fresh count: so a guesser with more addresses than places gets
//! more guesses, and what bounds those is the count per account (10 per
//! account per window), which the database keeps whatever happens here.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use carrel_store::quiet_log::NowAndThen;
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
    tracked: HashMap<AddressKey, Entry>,
    /// The tracked addresses by their latest guess (its `Entry::latest`),
    /// oldest first: the one to evict when every place is taken.
    by_latest_guess: BTreeMap<u64, AddressKey>,
    /// Numbers guesses in the order they come, for `by_latest_guess`, and
    /// entries, so a reservation never settles with an entry that
    /// replaced its own after an eviction.
    next_number: u64,
    /// When the tracked addresses were last swept for passed windows (at
    /// most once a second, so a full table costs one sweep a second, not
    /// one a request).
    swept_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The number the entry was made with: its identity.
    made: u64,
    /// The number of the address's latest guess.
    latest: u64,
    window_started_at: i64,
    failures: u32,
    /// Whether a refusal in this window has been handed out already: the
    /// first is audited, the rest only counted in the log.
    refusal_noted: bool,
}

/// A guess refused because its address has used up its failed guesses.
#[derive(Debug)]
pub struct Refusal {
    /// The address's first refusal in its window: the one the audit log
    /// records (once per window, so a guesser knocking at the limit
    /// cannot fill the log).
    pub first_in_window: bool,
}

/// One guess's place in its address's count. Consumed without
/// [`Reservation::give_back`], the guess stays counted as failed (so a
/// client that hangs up mid-check is charged, not let off).
#[must_use = "a reservation is settled by give_back or settle"]
pub struct Reservation {
    throttle: Arc<AddressThrottle>,
    address: AddressKey,
    entry_made: u64,
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
                by_latest_guess: BTreeMap::new(),
                next_number: 0,
                swept_at: i64::MIN,
            }),
        }
    }

    /// Counts one guess from `address` as failed before it is checked, if
    /// the address has guesses left in its window (`now` in Unix seconds,
    /// from the store's clock); a [`Refusal`] if it has used them up.
    pub fn reserve(
        self: &Arc<Self>,
        address: AddressKey,
        now: i64,
    ) -> Result<Reservation, Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        if !state.tracked.contains_key(&address) {
            self.make_room(state, now);
            let made = state.number();
            state.tracked.insert(
                address,
                Entry {
                    made,
                    latest: made,
                    window_started_at: now,
                    failures: 0,
                    refusal_noted: false,
                },
            );
            state.by_latest_guess.insert(made, address);
        }
        // Every guess, a refused one too, makes the address recent: a
        // guesser that keeps knocking at its limit is the last to be
        // evicted, not the first.
        let latest = state.number();
        let Some(entry) = state.tracked.get_mut(&address) else {
            unreachable!("the address was tracked above, under the same lock");
        };
        state.by_latest_guess.remove(&entry.latest);
        state.by_latest_guess.insert(latest, address);
        entry.latest = latest;
        if now >= entry.window_started_at + self.window_seconds {
            entry.window_started_at = now;
            entry.failures = 0;
            entry.refusal_noted = false;
        }
        if entry.failures >= self.limit {
            let first_in_window = !entry.refusal_noted;
            entry.refusal_noted = true;
            return Err(Refusal { first_in_window });
        }
        entry.failures += 1;
        Ok(Reservation {
            throttle: self.clone(),
            address,
            entry_made: entry.made,
            window_started_at: entry.window_started_at,
        })
    }

    /// Frees a place for a new address when all are taken: first the
    /// addresses whose window has passed, then the one that guessed least
    /// recently.
    fn make_room(&self, state: &mut State, now: i64) {
        if state.tracked.len() < self.capacity {
            return;
        }
        if now > state.swept_at {
            let window_seconds = self.window_seconds;
            let by_latest_guess = &mut state.by_latest_guess;
            state.tracked.retain(|_, entry| {
                let current = now < entry.window_started_at + window_seconds;
                if !current {
                    by_latest_guess.remove(&entry.latest);
                }
                current
            });
            state.swept_at = now;
        }
        if state.tracked.len() < self.capacity {
            return;
        }
        if let Some((_, evicted)) = state.by_latest_guess.pop_first() {
            state.tracked.remove(&evicted);
        }
        // Never the addresses: they are personal data.
        static EVICTING: NowAndThen = NowAndThen::new();
        if let Some(held_back) = EVICTING.due() {
            tracing::warn!(
                held_back,
                capacity = self.capacity,
                "failed guesses from more addresses than the throttle tracks (a flood?): the least recent are forgotten"
            );
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
    fn number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
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
        // An entry evicted since, or whose window has started again, owes
        // this guess nothing.
        let Some(entry) = state.tracked.get_mut(&self.address).filter(|entry| {
            entry.made == self.entry_made && entry.window_started_at == self.window_started_at
        }) else {
            return;
        };
        entry.failures = entry.failures.saturating_sub(1);
        if entry.failures == 0 {
            let latest = entry.latest;
            state.tracked.remove(&self.address);
            state.by_latest_guess.remove(&latest);
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
        assert!(throttle.reserve(me, 100).is_err(), "used up");
        let other = AddressKey::from(v4("192.0.2.2"));
        assert!(throttle.reserve(other, 100).is_ok(), "others unaffected");
        assert!(throttle.reserve(me, 15 * 60).is_ok(), "a new window");
    }

    fn address(n: u32) -> AddressKey {
        AddressKey::from(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

    #[test]
    fn a_flood_of_addresses_cannot_refuse_anyone_else_or_grow_the_table() {
        let throttle = Arc::new(AddressThrottle::with_capacity(2, 4));
        // A flood: 1000 addresses, each using up its guesses.
        for n in 0..1000u32 {
            for _ in 0..2 {
                let _failed = throttle.reserve(address(n), 0).unwrap();
            }
        }
        assert_eq!(throttle.tracked(), 4, "the table stays bounded");
        // Someone else, from an address of their own, still gets their
        // guesses: the flood's failures are not theirs. (With one shared
        // overflow count, everyone new was refused here.)
        let director = AddressKey::from(v4("192.0.2.1"));
        let _failed = throttle.reserve(director, 1).unwrap();
        throttle.reserve(director, 1).unwrap().give_back();
        assert!(throttle.reserve(director, 1).is_ok());
        assert_eq!(throttle.tracked(), 4);
    }

    #[test]
    fn passed_windows_are_evicted_before_the_least_recent_guesser() {
        let throttle = Arc::new(AddressThrottle::with_capacity(2, 4));
        let window = 15 * 60;
        // Three addresses fail at the start; a guesser uses up its
        // guesses later, and keeps knocking.
        for n in 0..3 {
            let _failed = throttle.reserve(address(n), 0).unwrap();
        }
        let guesser = address(100);
        for _ in 0..2 {
            let _failed = throttle.reserve(guesser, window - 10).unwrap();
        }
        assert!(throttle.reserve(guesser, window - 5).is_err());
        // Once the first three windows have passed, newcomers take their
        // places, and the guesser stays refused.
        for n in 200..203 {
            let _failed = throttle.reserve(address(n), window).unwrap();
        }
        assert!(throttle.reserve(guesser, window + 1).is_err());
        // With no window passed, the least recent guesser goes: the
        // guesser knocked last, so a newcomer evicts one of the others.
        let _failed = throttle.reserve(address(300), window + 2).unwrap();
        assert!(throttle.reserve(guesser, window + 3).is_err());
        assert_eq!(throttle.tracked(), 4);
    }

    #[test]
    fn a_reservation_does_not_settle_with_the_entry_that_replaced_its_own() {
        let throttle = Arc::new(AddressThrottle::with_capacity(2, 1));
        let me = address(1);
        let first = throttle.reserve(me, 0).unwrap();
        // Evicted by another address, then back with a fresh count.
        let _other = throttle.reserve(address(2), 0).unwrap();
        let _mine_again = throttle.reserve(me, 0).unwrap();
        first.give_back();
        let _second = throttle.reserve(me, 0).unwrap();
        assert!(
            throttle.reserve(me, 0).is_err(),
            "the old place was given back to the new entry"
        );
    }
}
