//! Which local candidates a peer announces under its `HostCandidates` policy.

use unipeer_core::HostCandidates;

/// Whether a local candidate is announced under the peer's host-candidate policy: host
/// candidates only on the chosen addresses, every other type (reflexive, relayed) always.
pub(crate) fn announced(policy: &HostCandidates, candidate: &str) -> bool {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
    let mut fields = candidate.split_ascii_whitespace();
    let address = fields.nth(4);
    if fields.nth(2) != Some("host") {
        return true;
    }
    let Some(address) = address else { return true };
    match policy {
        // The browser writes addresses in their canonical form (RFC 5952 for IPv6). A browser
        // without special flags gathers no loopback candidate at all but hides this
        // machine's addresses behind `<uuid>.local` names, which only nearby peers resolve:
        // those are kept too, so two peers of one page still meet.
        HostCandidates::Loopback => {
            address.starts_with("127.") || address == "::1" || address.ends_with(".local")
        }
        HostCandidates::Addresses(list) => list.iter().any(|ip| same_address(ip, address)),
        _ => true,
    }
}

/// Whether `text` (an address in a candidate) is `ip`, without `IpAddr::from_str` (whose
/// parser is a large part of a small wasm module).
fn same_address(ip: &std::net::IpAddr, text: &str) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut octets = text.split('.').map(|o| o.parse::<u8>().ok());
            v4.octets().iter().all(|&o| octets.next() == Some(Some(o))) && octets.next().is_none()
        }
        std::net::IpAddr::V6(v6) => {
            let groups = |part: &str| -> Option<Vec<u16>> {
                if part.is_empty() {
                    return Some(Vec::new());
                }
                part.split(':')
                    .map(|g| u16::from_str_radix(g, 16).ok())
                    .collect()
            };
            let (head, tail, gap) = match text.as_bytes().windows(2).position(|w| w == b"::") {
                Some(i) => (&text[..i], &text[i + 2..], true),
                None => (text, "", false),
            };
            let (Some(mut all), Some(tail)) = (groups(head), groups(tail)) else {
                return false;
            };
            match (gap, all.len() + tail.len()) {
                // "::" stands for at least one group of zeros.
                (true, n) if n <= 7 => all.resize(8 - tail.len(), 0),
                (false, 8) => {}
                _ => return false,
            }
            all.extend(tail);
            all == v6.segments()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn loopback_policy_keeps_loopback_and_mdns_host_candidates() {
        let c =
            |addr: &str, typ: &str| format!("candidate:1 1 udp 2122194687 {addr} 5000 typ {typ}");
        let p = HostCandidates::Loopback;
        assert!(announced(&p, &c("127.0.0.1", "host")));
        assert!(announced(&p, &c("::1", "host")));
        assert!(announced(
            &p,
            &c("0b7c9a8e-1f7a-4c1e-9d3c-2a5b6c7d8e9f.local", "host")
        ));
        assert!(!announced(&p, &c("192.0.2.2", "host")));
        assert!(!announced(&p, &c("fd00::2", "host")));
        assert!(
            announced(&p, &c("198.51.100.7", "srflx")),
            "only host candidates are filtered"
        );
        assert!(announced(
            &HostCandidates::AllInterfaces,
            &c("192.0.2.2", "host")
        ));
        let only = HostCandidates::Addresses(vec!["fd00::2".parse().unwrap()]);
        assert!(announced(&only, &c("fd00::2", "host")));
        assert!(!announced(&only, &c("fd00::3", "host")));
    }

    #[wasm_bindgen_test]
    fn addresses_compare_like_parsed_ones() {
        let same = |ip: &str, text: &str| same_address(&ip.parse().unwrap(), text);
        assert!(same("192.0.2.2", "192.0.2.2"));
        assert!(!same("192.0.2.2", "192.0.2.22"));
        assert!(!same("192.0.2.2", "192.0.2"));
        assert!(same("::1", "::1"));
        assert!(same("fe80::fc:ff:fe00:1", "fe80::fc:ff:fe00:1"));
        assert!(same("2001:db8::", "2001:db8::"));
        assert!(same("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"));
        assert!(!same("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7"));
        assert!(!same("::1", "::2"));
        assert!(!same("::1", "x.local"));
    }
}
