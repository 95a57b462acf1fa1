//! Runnable examples for unipeer; see the `[[example]]` targets (`cargo run --example NAME`).
//!
//! The library holds what several examples share.

#[cfg(all(feature = "media", not(target_arch = "wasm32")))]
pub mod clip;
#[cfg(not(target_arch = "wasm32"))]
mod node;
mod program;
#[cfg(not(target_arch = "wasm32"))]
pub use node::{echo_channel, main_with, parse_node_args, NodeArgs};
#[cfg(target_arch = "wasm32")]
pub use program::page_arg;
pub use program::{print_line, run};

/// Which host candidates a native node that joins a mesh through the signaling server at
/// `url` offers, the rule of the `echo` and `demo` examples:
/// - `loopback_only`: 127.0.0.1 alone;
/// - else every network interface, as a user expects ([`HostCandidates::AllInterfaces`]),
///   plus 127.0.0.1 when the server URL's host is a loopback address (`127.0.0.0/8`, `::1`,
///   `localhost`): the peers then run on this machine, and this works even where loopback
///   is the only interface.
///
/// [`HostCandidates::AllInterfaces`]: unipeer::HostCandidates::AllInterfaces
#[cfg(not(target_arch = "wasm32"))]
pub fn host_candidates(url: &str, loopback_only: bool) -> unipeer::HostCandidates {
    use std::net::{IpAddr, Ipv4Addr};
    use unipeer::HostCandidates;

    if loopback_only {
        return HostCandidates::Loopback;
    }
    if !url_host_is_loopback(url) {
        return HostCandidates::AllInterfaces;
    }
    // What AllInterfaces gives (no loopback, no link-local IPv6: candidates cannot carry a
    // scope id; no unspecified or multicast address), then 127.0.0.1.
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => {
            !v6.is_unspecified() && !v6.is_multicast() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    };
    let mut addresses: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|interfaces| {
            interfaces
                .into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .filter(usable)
                .collect()
        })
        .unwrap_or_default();
    addresses.sort();
    addresses.dedup();
    addresses.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    HostCandidates::Addresses(addresses)
}

/// Whether the host of a `ws://` or `wss://` URL is a loopback address or `localhost`.
pub fn url_host_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use unipeer::HostCandidates;

    #[test]
    fn loopback_urls() {
        for url in [
            "ws://127.0.0.1:8000",
            "ws://127.0.0.1:8000/",
            "ws://127.1.2.3",
            "wss://[::1]:9/x",
            "ws://localhost:1/v1",
            "ws://user@127.0.0.1:1",
        ] {
            assert!(url_host_is_loopback(url), "{url}");
        }
        for url in [
            "ws://example.com:8000",
            "ws://192.0.2.1/",
            "ws://[fd00::1]:80",
        ] {
            assert!(!url_host_is_loopback(url), "{url}");
        }
    }

    #[test]
    fn candidates_follow_the_url() {
        assert_eq!(
            host_candidates("ws://example.com", true),
            HostCandidates::Loopback
        );
        assert_eq!(
            host_candidates("ws://example.com", false),
            HostCandidates::AllInterfaces
        );
        let HostCandidates::Addresses(a) = host_candidates("ws://127.0.0.1:1", false) else {
            panic!("a list of addresses")
        };
        assert!(a.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
