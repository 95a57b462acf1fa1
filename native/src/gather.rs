//! Which local addresses become host candidates.

use std::net::{IpAddr, Ipv4Addr};

use unipeer_core::{Error, HostCandidates, Result};

/// The local IP addresses to bind one UDP socket each on.
pub(crate) fn host_addresses(policy: &HostCandidates) -> Result<Vec<IpAddr>> {
    let addrs = match policy {
        HostCandidates::Loopback => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        HostCandidates::Addresses(list) => list.clone(),
        HostCandidates::AllInterfaces => interface_addresses()?,
        _ => {
            return Err(Error::InvalidConfig(
                "this host-candidate policy is not supported by the native backend".into(),
            ))
        }
    };
    if addrs.is_empty() {
        return Err(Error::InvalidConfig(
            "no usable network interface address was found; set host_candidates explicitly".into(),
        ));
    }
    Ok(addrs)
}

fn interface_addresses() -> Result<Vec<IpAddr>> {
    let mut out: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map_err(|e| Error::Io(format!("listing network interfaces failed: {e}")))?
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| i.ip())
        .filter(usable)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Link-local IPv6 needs a scope id that candidates cannot carry; unspecified and
/// multicast addresses cannot be bound for unicast.
fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => {
            !v6.is_unspecified() && !v6.is_multicast() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}
