//! ICE server URLs in the browser's `RTCIceServer` shape, parsed and checked the same way
//! on every backend (RFC 7064 `stun:`, RFC 7065 `turn:`/`turns:`).

use std::net::IpAddr;

use thiserror::Error;

use crate::IceServer;

/// The kind of server an ICE URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IceServerKind {
    /// `stun:`: binding requests find this peer's public (server-reflexive) address.
    Stun,
    /// `turn:`: a relay, reached over UDP or TCP.
    Turn,
    /// `turns:`: a relay reached over TLS.
    Turns,
}

/// The transport used to reach an ICE server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IceTransport {
    /// UDP (the default for `stun:` and `turn:`).
    Udp,
    /// TCP (`?transport=tcp`; for `turns:`, TLS over TCP, the default).
    Tcp,
}

/// One parsed ICE server URL.
///
/// ```
/// use unipeer_core::{IceServerKind, IceTransport, IceUrl};
/// let url = IceUrl::parse("turn:turn.example.org?transport=tcp").unwrap();
/// assert_eq!(url.kind, IceServerKind::Turn);
/// assert_eq!((url.host.as_str(), url.port), ("turn.example.org", 3478));
/// assert_eq!(url.transport, IceTransport::Tcp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct IceUrl {
    /// STUN, TURN or TURN over TLS.
    pub kind: IceServerKind,
    /// A host name or an IP address (IPv6 without its brackets).
    pub host: String,
    /// The port (3478 by default, 5349 for `turns:`).
    pub port: u16,
    /// How the server is reached.
    pub transport: IceTransport,
}

impl IceUrl {
    /// Parses a `stun:`, `turn:` or `turns:` URL.
    pub fn parse(url: &str) -> Result<Self, IceServerError> {
        let bad = |why: IceUrlProblem| IceServerError::InvalidUrl {
            url: url.to_string(),
            problem: why,
        };
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| bad(IceUrlProblem::Scheme))?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "stun" => IceServerKind::Stun,
            "turn" => IceServerKind::Turn,
            "turns" => IceServerKind::Turns,
            _ => return Err(bad(IceUrlProblem::Scheme)),
        };
        if rest.starts_with("//") {
            return Err(bad(IceUrlProblem::Slashes));
        }
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let transport = match (kind, query) {
            (IceServerKind::Stun, None) => IceTransport::Udp,
            (IceServerKind::Stun, Some(_)) => return Err(bad(IceUrlProblem::QueryOnStun)),
            (IceServerKind::Turn, None) => IceTransport::Udp,
            (IceServerKind::Turns, None) => IceTransport::Tcp,
            (_, Some(q)) => match q.to_ascii_lowercase().as_str() {
                "transport=udp" => IceTransport::Udp,
                "transport=tcp" => IceTransport::Tcp,
                _ => return Err(bad(IceUrlProblem::Query)),
            },
        };
        let (host, port) = split_host_port(hostport).map_err(bad)?;
        let port = match port {
            Some(p) => p,
            None if kind == IceServerKind::Turns => 5349,
            None => 3478,
        };
        Ok(IceUrl {
            kind,
            host,
            port,
            transport,
        })
    }

    /// The host as an IP address, if it is one (otherwise it is a name to resolve).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), IceUrlProblem> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(IceUrlProblem::Host)?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(IceUrlProblem::Host);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(IceUrlProblem::Port)?),
        };
        (v6.to_string(), port)
    } else {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if host.contains(':') {
            // An IPv6 address needs brackets.
            return Err(IceUrlProblem::Host);
        }
        if !valid_host(host) {
            return Err(IceUrlProblem::Host);
        }
        (host.to_string(), port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(IceUrlProblem::Port),
        },
    };
    Ok((host, port))
}

/// A host name (RFC 1123 labels) or an IPv4 address.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl IceServer {
    /// A STUN server without credentials.
    ///
    /// ```
    /// let stun = unipeer_core::IceServer::stun("stun:203.0.113.1:3478");
    /// assert!(stun.parse_urls().is_ok());
    /// ```
    pub fn stun(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            username: None,
            credential: None,
        }
    }

    /// A TURN server (one or more `turn:`/`turns:` URLs) with its credentials.
    pub fn turn(
        urls: impl IntoIterator<Item = impl Into<String>>,
        username: impl Into<String>,
        credential: impl Into<String>,
    ) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            username: Some(username.into()),
            credential: Some(credential.into()),
        }
    }

    /// Parses every URL and checks the credentials they need, as the browser does when
    /// an `RTCPeerConnection` is created: TURN URLs need both `username` and `credential`.
    pub fn parse_urls(&self) -> Result<Vec<IceUrl>, IceServerError> {
        if self.urls.is_empty() {
            return Err(IceServerError::NoUrls);
        }
        let mut out = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            let parsed = IceUrl::parse(url.trim())?;
            if parsed.kind != IceServerKind::Stun
                && (self.username.is_none() || self.credential.is_none())
            {
                return Err(IceServerError::MissingCredentials { url: url.clone() });
            }
            out.push(parsed);
        }
        Ok(out)
    }
}

/// Why an [`IceServer`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IceServerError {
    /// The server lists no URL.
    #[error("an ICE server has no urls; give at least one stun:, turn: or turns: URL")]
    NoUrls,
    /// A URL is malformed.
    #[error("'{url}' is not a usable ICE server URL: {problem}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: IceUrlProblem,
    },
    /// A TURN URL without a username or credential.
    #[error(
        "the TURN server '{url}' needs both a username and a credential; set them on its IceServer"
    )]
    MissingCredentials {
        /// The URL as given.
        url: String,
    },
}

/// What is wrong with an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IceUrlProblem {
    /// Not `stun:`, `turn:` or `turns:`.
    #[error("it must start with stun:, turn: or turns:")]
    Scheme,
    /// `stun://host` instead of `stun:host`.
    #[error("write scheme:host:port, without // after the scheme")]
    Slashes,
    /// The host is missing or not a host name or IP address.
    #[error("the host must be a host name, an IPv4 address or a bracketed IPv6 address ([::1])")]
    Host,
    /// The port is not a number from 1 to 65535.
    #[error("the port must be a number from 1 to 65535")]
    Port,
    /// A query other than `?transport=udp|tcp`.
    #[error("the only query allowed is ?transport=udp or ?transport=tcp")]
    Query,
    /// A `stun:` URL with a query.
    #[error("stun: URLs take no query; ?transport= is for turn: and turns:")]
    QueryOnStun,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> IceUrl {
        IceUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn problem(url: &str) -> IceUrlProblem {
        match IceUrl::parse(url) {
            Err(IceServerError::InvalidUrl { problem, .. }) => problem,
            other => panic!("{url}: expected an invalid URL, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_browser_forms() {
        let u = ok("stun:stun.example.org");
        assert_eq!(
            (u.kind, u.host.as_str(), u.port, u.transport),
            (
                IceServerKind::Stun,
                "stun.example.org",
                3478,
                IceTransport::Udp
            )
        );
        let u = ok("stun:203.0.113.1:19302");
        assert_eq!(
            (u.port, u.ip()),
            (19302, Some("203.0.113.1".parse().unwrap()))
        );
        let u = ok("stun:[2001:db8::1]:3479");
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 3479));
        let u = ok("turn:203.0.113.1");
        assert_eq!(
            (u.kind, u.transport),
            (IceServerKind::Turn, IceTransport::Udp)
        );
        let u = ok("turn:203.0.113.1:3478?transport=tcp");
        assert_eq!(u.transport, IceTransport::Tcp);
        let u = ok("TURN:h?transport=UDP");
        assert_eq!(
            (u.kind, u.transport),
            (IceServerKind::Turn, IceTransport::Udp)
        );
        let u = ok("turns:turn.example.org");
        assert_eq!(
            (u.kind, u.port, u.transport),
            (IceServerKind::Turns, 5349, IceTransport::Tcp)
        );
        assert_eq!(ok("stun:[::1]").port, 3478);
    }

    #[test]
    fn rejects_malformed_urls_with_the_reason() {
        assert_eq!(problem("http://example.org"), IceUrlProblem::Scheme);
        assert_eq!(problem("example.org"), IceUrlProblem::Scheme);
        assert_eq!(problem("stuns:example.org"), IceUrlProblem::Scheme);
        assert_eq!(problem("stun://example.org"), IceUrlProblem::Slashes);
        assert_eq!(problem("stun:"), IceUrlProblem::Host);
        assert_eq!(problem("stun::3478"), IceUrlProblem::Host);
        assert_eq!(problem("stun:2001:db8::1"), IceUrlProblem::Host);
        assert_eq!(problem("stun:[not-v6]:1"), IceUrlProblem::Host);
        assert_eq!(problem("stun:bad_host"), IceUrlProblem::Host);
        assert_eq!(problem("stun:h:0"), IceUrlProblem::Port);
        assert_eq!(problem("stun:h:65536"), IceUrlProblem::Port);
        assert_eq!(problem("stun:h:+1"), IceUrlProblem::Port);
        assert_eq!(problem("stun:[::1]x"), IceUrlProblem::Port);
        assert_eq!(problem("stun:h?transport=udp"), IceUrlProblem::QueryOnStun);
        assert_eq!(problem("turn:h?transport=sctp"), IceUrlProblem::Query);
        assert_eq!(problem("turn:h?foo=bar"), IceUrlProblem::Query);
    }

    #[test]
    fn turn_needs_credentials_stun_does_not() {
        assert!(IceServer::stun("stun:h").parse_urls().is_ok());
        let mut s = IceServer::turn(["turn:h", "turns:h"], "u", "p");
        assert_eq!(s.parse_urls().map(|v| v.len()), Ok(2));
        s.credential = None;
        assert_eq!(
            s.parse_urls(),
            Err(IceServerError::MissingCredentials {
                url: "turn:h".into()
            })
        );
        let none = IceServer {
            urls: vec![],
            username: None,
            credential: None,
        };
        assert_eq!(none.parse_urls(), Err(IceServerError::NoUrls));
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = IceUrl::parse("stun://h").unwrap_err();
        assert!(e.to_string().contains("without //"), "{e}");
        let e = crate::Error::from(IceServerError::NoUrls);
        assert!(e.to_string().contains("give at least one"), "{e}");
    }
}
