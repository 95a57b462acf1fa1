//! The request target of a WebSocket upgrade: `/v1/rooms/{room}?token=T`.

use crate::protocol::PATH_PREFIX;

/// Room and token requested by a client. The room is not validated yet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) room: String,
    pub(crate) token: Option<String>,
}

/// Parses a request path and query. `None` when the path is not a room endpoint at all
/// (the handshake is then refused with HTTP 404).
pub(crate) fn parse_target(path: &str, query: Option<&str>) -> Option<Target> {
    let segment = path.strip_prefix(PATH_PREFIX)?;
    if segment.contains('/') {
        return None;
    }
    let room = percent_decode(segment).unwrap_or_else(|| segment.to_owned());
    let token = query.and_then(|q| {
        q.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "token").then(|| percent_decode(value).unwrap_or_default())
        })
    });
    Some(Target { room, token })
}

/// Decodes `%XX` escapes; `None` on a bad escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(room: &str, token: Option<&str>) -> Option<Target> {
        Some(Target {
            room: room.into(),
            token: token.map(Into::into),
        })
    }

    #[test]
    fn parses_targets() {
        assert_eq!(parse_target("/v1/rooms/abc", None), t("abc", None));
        assert_eq!(
            parse_target("/v1/rooms/abc", Some("token=x.y")),
            t("abc", Some("x.y"))
        );
        assert_eq!(
            parse_target("/v1/rooms/a%2Db", Some("a=1&token=x%2Ey&token=z")),
            t("a-b", Some("x.y"))
        );
        assert_eq!(parse_target("/v1/rooms/", None), t("", None));
        assert_eq!(parse_target("/v1/rooms/%zz", None), t("%zz", None));
        assert_eq!(parse_target("/v1/rooms/a/b", None), None);
        assert_eq!(parse_target("/v2/rooms/a", None), None);
        assert_eq!(parse_target("/", None), None);
    }
}
