//! Who the mesh is linked to, and under which signaling ids: the mesh's bookkeeping,
//! without I/O, so its rules are tested on their own.
//!
//! A link keeps the id it was created under (its *key*, what the application sees) for
//! its whole life. The remote's *signaling id* can change under it: when the remote
//! reconnects to the server it gets a new id and announces it over the link's control
//! channel. Signals are routed by signaling id.
//!
//! After this node re-joins (a new welcome), every welcome peer that is not the signaling
//! id of a live link is a candidate for an offer (the newcomer rule). If some live links
//! have an unconfirmed id (their remote may have re-joined too, under an id it has not
//! announced yet), those offers wait until the announcements arrive or a grace period
//! ends, so that a link that survived the outage is not duplicated.

use std::collections::{HashMap, HashSet};

/// A link's number, unique for the mesh's life.
pub(super) type LinkId = u64;

#[derive(Debug)]
struct Entry {
    key: String,
    sig: Option<String>,
    connected: bool,
}

/// What the mesh should do about a signal from a signaling id.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// Hand it to this link.
    Link(LinkId),
    /// An offer from an unknown id: create an answering link.
    NewLink,
    /// Nothing to do with it (a non-offer from an unknown id).
    Drop,
}

#[derive(Debug, Default)]
pub(super) struct Roster {
    links: HashMap<LinkId, Entry>,
    by_sig: HashMap<String, LinkId>,
    next_id: LinkId,
    /// Welcome peers waiting for an offer until the stale links are resolved.
    deferred: Option<Vec<String>>,
}

impl Roster {
    /// Registers a new link under the signaling id `sig` (also its key, made unique if a
    /// live link already uses it).
    pub(super) fn add(&mut self, sig: &str) -> LinkId {
        let id = self.next_id;
        self.next_id += 1;
        let key = if self.links.values().any(|e| e.key == sig) {
            format!("{sig}#{id}")
        } else {
            sig.to_string()
        };
        if let Some(old) = self.by_sig.insert(sig.to_string(), id) {
            if let Some(e) = self.links.get_mut(&old) {
                e.sig = None;
            }
        }
        self.links.insert(
            id,
            Entry {
                key,
                sig: Some(sig.to_string()),
                connected: false,
            },
        );
        if let Some(d) = &mut self.deferred {
            d.retain(|p| p != sig);
        }
        id
    }

    /// Forgets a link; returns its key and whether it was connected.
    pub(super) fn remove(&mut self, id: LinkId) -> Option<(String, bool)> {
        let e = self.links.remove(&id)?;
        if let Some(sig) = &e.sig {
            if self.by_sig.get(sig) == Some(&id) {
                self.by_sig.remove(sig);
            }
        }
        Some((e.key, e.connected))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    pub(super) fn key(&self, id: LinkId) -> Option<&str> {
        self.links.get(&id).map(|e| e.key.as_str())
    }

    /// The link the application knows as `key`.
    pub(super) fn by_key(&self, key: &str) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, e)| e.key == key)
            .map(|(id, _)| *id)
    }

    /// Where signals for this link go right now (`None` while its id is unknown).
    pub(super) fn sig(&self, id: LinkId) -> Option<&str> {
        self.links.get(&id)?.sig.as_deref()
    }

    pub(super) fn set_connected(&mut self, id: LinkId) -> Option<&str> {
        let e = self.links.get_mut(&id)?;
        e.connected = true;
        Some(&e.key)
    }

    /// Keys and ids of the connected links, sorted by key.
    pub(super) fn connected(&self) -> Vec<(LinkId, &str)> {
        let mut v: Vec<_> = self
            .links
            .iter()
            .filter(|(_, e)| e.connected)
            .map(|(id, e)| (*id, e.key.as_str()))
            .collect();
        v.sort_by(|a, b| a.1.cmp(b.1));
        v
    }

    pub(super) fn route(&self, from: &str, is_offer: bool) -> Route {
        match self.by_sig.get(from) {
            Some(id) => Route::Link(*id),
            None if is_offer => Route::NewLink,
            None => Route::Drop,
        }
    }

    /// `sig` left the room. Returns the link to drop if it was still negotiating (a
    /// connected link survives: only its connection closing ends it).
    pub(super) fn peer_left(&mut self, sig: &str) -> Option<LinkId> {
        if let Some(d) = &mut self.deferred {
            d.retain(|p| p != sig);
        }
        let id = self.by_sig.remove(sig)?;
        let e = self.links.get_mut(&id)?;
        e.sig = None;
        (!e.connected).then_some(id)
    }

    /// The signaling connection dropped: links still negotiating cannot finish (their
    /// signals are lost). Returns them, forgotten.
    pub(super) fn signaling_lost(&mut self) -> Vec<LinkId> {
        self.deferred = None;
        let dead: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, e)| !e.connected)
            .map(|(id, _)| *id)
            .collect();
        for id in &dead {
            self.remove(*id);
        }
        dead
    }

    /// This node re-joined; `peers` were in the room. Returns the peers to offer to now;
    /// if some must wait, `deferring()` is true until `release` gives them.
    pub(super) fn rejoined(&mut self, peers: &[String]) -> Vec<String> {
        let present: HashSet<&str> = peers.iter().map(String::as_str).collect();
        // Ids that are not in the room any more are certainly stale.
        let gone: Vec<String> = self
            .by_sig
            .keys()
            .filter(|s| !present.contains(s.as_str()))
            .cloned()
            .collect();
        for sig in gone {
            if let Some(id) = self.by_sig.remove(&sig) {
                if let Some(e) = self.links.get_mut(&id) {
                    e.sig = None;
                }
            }
        }
        let targets: Vec<String> = peers
            .iter()
            .filter(|p| !self.by_sig.contains_key(p.as_str()))
            .cloned()
            .collect();
        self.deferred = Some(targets);
        self.release(false)
    }

    /// Whether offers wait for announcements.
    pub(super) fn deferring(&self) -> bool {
        self.deferred.is_some()
    }

    /// The deferred offers, if no link is stale any more (or `force`: the grace period
    /// ended).
    pub(super) fn release(&mut self, force: bool) -> Vec<String> {
        let stale = self.links.values().any(|e| e.connected && e.sig.is_none());
        if self.deferred.is_some() && (force || !stale) {
            self.deferred.take().unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// The remote of `id` announced its signaling id `sig`. Returns a link that is a
    /// duplicate of `id` (created for `sig` before the announcement came), to close.
    pub(super) fn announced(&mut self, id: LinkId, sig: &str) -> Option<LinkId> {
        if !self.links.contains_key(&id) {
            return None;
        }
        let previous = self.by_sig.insert(sig.to_string(), id);
        let duplicate = previous.filter(|p| *p != id);
        if let Some(dup) = duplicate {
            if let Some(e) = self.links.get_mut(&dup) {
                e.sig = None;
            }
        }
        if let Some(e) = self.links.get_mut(&id) {
            if let Some(old) = e.sig.replace(sig.to_string()) {
                if old != sig && self.by_sig.get(&old) == Some(&id) {
                    self.by_sig.remove(&old);
                }
            }
        }
        if let Some(d) = &mut self.deferred {
            d.retain(|p| p != sig);
        }
        duplicate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn connected(r: &mut Roster, sig: &str) -> LinkId {
        let id = r.add(sig);
        r.set_connected(id);
        id
    }

    #[test]
    fn signals_are_routed_by_signaling_id() {
        let mut r = Roster::default();
        let a = r.add("a");
        assert_eq!(r.route("a", false), Route::Link(a));
        assert_eq!(r.route("b", false), Route::Drop);
        assert_eq!(r.route("b", true), Route::NewLink);
    }

    #[test]
    fn a_connected_link_survives_its_peer_leaving_signaling() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        let b = r.add("b");
        assert_eq!(r.peer_left("a"), None, "connected: kept");
        assert_eq!(r.peer_left("b"), Some(b), "negotiating: dropped");
        assert_eq!(r.sig(a), None);
        assert_eq!(r.key(a), Some("a"));
        assert_eq!(r.route("a", false), Route::Drop);
    }

    #[test]
    fn losing_signaling_drops_only_negotiating_links() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        let b = r.add("b");
        assert_eq!(r.signaling_lost(), vec![b]);
        assert_eq!(r.connected(), vec![(a, "a")]);
    }

    #[test]
    fn rejoining_when_only_we_reconnected_offers_only_to_new_peers() {
        let mut r = Roster::default();
        connected(&mut r, "a");
        connected(&mut r, "b");
        assert_eq!(r.rejoined(&ids(&["a", "b", "c"])), ids(&["c"]));
        assert!(!r.deferring());
    }

    #[test]
    fn after_a_server_restart_offers_wait_for_announcements() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        let b = connected(&mut r, "b");
        // Everyone has a new id; a2 and b2 may be a and b.
        assert_eq!(r.rejoined(&ids(&["a2", "b2", "n"])), Vec::<String>::new());
        assert!(r.deferring());
        assert_eq!(r.announced(a, "a2"), None);
        assert!(r.deferring(), "b is still unconfirmed");
        assert_eq!(r.announced(b, "b2"), None);
        assert_eq!(r.release(false), ids(&["n"]), "only the real newcomer");
        assert!(!r.deferring());
        assert_eq!(r.route("a2", false), Route::Link(a));
        assert_eq!(r.key(a), Some("a"), "the key stays");
    }

    #[test]
    fn the_grace_period_releases_what_is_left() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        connected(&mut r, "b");
        r.rejoined(&ids(&["a2", "x"]));
        r.announced(a, "a2");
        assert_eq!(r.release(false), Vec::<String>::new());
        assert_eq!(r.release(true), ids(&["x"]));
    }

    #[test]
    fn a_stale_link_that_closes_releases_the_offers() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        r.rejoined(&ids(&["x"]));
        assert!(r.deferring());
        r.remove(a);
        assert_eq!(r.release(false), ids(&["x"]));
    }

    #[test]
    fn an_announcement_reveals_a_duplicate_link() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        // a re-joined as a2 and offered to us before its announcement arrived.
        let dup = r.add("a2");
        assert_eq!(r.announced(a, "a2"), Some(dup));
        assert_eq!(r.route("a2", false), Route::Link(a));
        assert_eq!(r.sig(dup), None);
    }

    #[test]
    fn an_offer_from_a_deferred_peer_is_answered_not_duplicated() {
        let mut r = Roster::default();
        connected(&mut r, "a");
        r.rejoined(&ids(&["n"]));
        assert_eq!(r.route("n", true), Route::NewLink);
        r.add("n");
        assert_eq!(r.release(true), Vec::<String>::new());
    }

    #[test]
    fn keys_stay_unique() {
        let mut r = Roster::default();
        let a = connected(&mut r, "a");
        r.announced(a, "a2");
        let other = r.add("a");
        assert_ne!(r.key(other), Some("a"));
        assert_eq!(r.by_key("a"), Some(a));
    }
}
