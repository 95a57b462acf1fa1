//! The RPC wire format (documented in docs/rpc.md): every data-channel message is a
//! 10-byte header (kind, flags, call id) and a piece of a body. A body larger than the
//! channel's message limit is split over several messages; all but the last carry `MORE`.

use super::codec::PayloadKind;
use super::error::WireError;

/// Header bytes in front of every message.
pub(crate) const HEADER: usize = 10;
/// Flag: more pieces of this body follow.
const MORE: u8 = 0x01;

/// What a message is about. Requests, cancels and credits go from caller to callee; the
/// rest come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Request = 1,
    Response = 2,
    Error = 3,
    Item = 4,
    End = 5,
    Cancel = 6,
    Credit = 7,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Response,
            3 => Kind::Error,
            4 => Kind::Item,
            5 => Kind::End,
            6 => Kind::Cancel,
            7 => Kind::Credit,
            _ => return None,
        })
    }
}

/// A parsed message: its header and its piece of the body.
#[derive(Debug)]
pub(crate) struct Piece<'a> {
    pub kind: Kind,
    pub id: u64,
    pub more: bool,
    pub data: &'a [u8],
}

/// Parses a message's header. `None` for a message too short or of an unknown kind (it
/// cannot be attributed to a call, so it is dropped).
pub(crate) fn parse(message: &[u8]) -> Option<Piece<'_>> {
    if message.len() < HEADER {
        return None;
    }
    let kind = Kind::from_byte(message[0])?;
    let more = message[1] & MORE != 0;
    let id = u64::from_le_bytes(message[2..10].try_into().ok()?);
    Some(Piece {
        kind,
        id,
        more,
        data: &message[HEADER..],
    })
}

/// The messages carrying `prefix ++ payload` as one body, each at most `max_message`
/// bytes. The common single-message case costs one allocation and one copy.
pub(crate) fn messages(
    kind: Kind,
    id: u64,
    prefix: &[u8],
    payload: &[u8],
    max_message: usize,
) -> Vec<Vec<u8>> {
    // Room for at least one body byte per message, whatever the channel says.
    let room = max_message.saturating_sub(HEADER).max(1);
    let total = prefix.len() + payload.len();
    let count = total.div_ceil(room).max(1);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (start, end) = (i * room, ((i + 1) * room).min(total));
        let mut m = Vec::with_capacity(HEADER + end - start);
        m.push(kind as u8);
        m.push(if i + 1 < count { MORE } else { 0 });
        m.extend_from_slice(&id.to_le_bytes());
        // This message's range of the body, from the prefix and then the payload.
        let split = prefix.len();
        if start < split {
            m.extend_from_slice(&prefix[start..end.min(split)]);
        }
        if end > split {
            m.extend_from_slice(&payload[start.max(split) - split..end - split]);
        }
        out.push(m);
    }
    out
}

/// A request body's fixed part: payload kind, stream credit (0 for a unary call), method.
pub(crate) fn request_prefix(payload: PayloadKind, credit: u32, method: &str) -> Vec<u8> {
    let name = method.as_bytes();
    let mut p = Vec::with_capacity(7 + name.len());
    p.push(payload.to_byte());
    p.extend_from_slice(&credit.to_le_bytes());
    // Callers check the length first (METHOD_MAX).
    p.extend_from_slice(&(name.len() as u16).to_le_bytes());
    p.extend_from_slice(name);
    p
}

/// The longest method name, in bytes.
pub(crate) const METHOD_MAX: usize = u16::MAX as usize;

/// A parsed request body.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub payload_kind: PayloadKind,
    pub credit: u32,
    pub method: &'a str,
    pub payload: &'a [u8],
}

/// Parses a request body; the error says what is wrong with it.
pub(crate) fn parse_request(body: &[u8]) -> Result<Request<'_>, String> {
    if body.len() < 7 {
        return Err(format!("request of {} bytes is truncated", body.len()));
    }
    let payload_kind = PayloadKind::from_byte(body[0])
        .ok_or_else(|| format!("unknown payload kind {}", body[0]))?;
    let credit = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
    let len = usize::from(u16::from_le_bytes([body[5], body[6]]));
    let rest = &body[7..];
    if rest.len() < len {
        return Err(format!(
            "method name of {len} bytes runs past the request's end"
        ));
    }
    let method = std::str::from_utf8(&rest[..len])
        .map_err(|_| "the method name is not UTF-8".to_string())?;
    Ok(Request {
        payload_kind,
        credit,
        method,
        payload: &rest[len..],
    })
}

/// The longest error message sent, in bytes: an error frame always fits in one message
/// (it may be sent where nothing can split it), even one naming a huge unknown method.
const ERROR_MESSAGE_MAX: usize = 4096;

/// An error body: code, two numbers, message (cut to `ERROR_MESSAGE_MAX` bytes).
pub(crate) fn error_body(e: &WireError) -> Vec<u8> {
    let mut end = e.message.len().min(ERROR_MESSAGE_MAX);
    while !e.message.is_char_boundary(end) {
        end -= 1;
    }
    let mut b = Vec::with_capacity(18 + end);
    b.extend_from_slice(&e.code.to_le_bytes());
    b.extend_from_slice(&e.a.to_le_bytes());
    b.extend_from_slice(&e.b.to_le_bytes());
    b.extend_from_slice(&e.message.as_bytes()[..end]);
    b
}

/// Parses an error body.
pub(crate) fn parse_error(body: &[u8]) -> Result<WireError, String> {
    if body.len() < 18 {
        return Err(format!("error frame of {} bytes is truncated", body.len()));
    }
    let num = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[r]);
        u64::from_le_bytes(b)
    };
    Ok(WireError {
        code: u16::from_le_bytes([body[0], body[1]]),
        a: num(2..10),
        b: num(10..18),
        message: String::from_utf8_lossy(&body[18..]).into_owned(),
    })
}

/// A credit body: how many more stream items the caller takes.
pub(crate) fn credit_body(n: u32) -> [u8; 4] {
    n.to_le_bytes()
}

/// Parses a credit body.
pub(crate) fn parse_credit(body: &[u8]) -> Result<u32, String> {
    let bytes: [u8; 4] = body
        .try_into()
        .map_err(|_| format!("credit frame of {} bytes, expected 4", body.len()))?;
    Ok(u32::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::Codec;

    fn join(messages: &[Vec<u8>]) -> (Kind, u64, Vec<u8>) {
        let mut body = Vec::new();
        let (mut kind, mut id) = (Kind::End, 0);
        for (i, m) in messages.iter().enumerate() {
            let p = parse(m).unwrap();
            assert_eq!(p.more, i + 1 < messages.len());
            (kind, id) = (p.kind, p.id);
            body.extend_from_slice(p.data);
        }
        (kind, id, body)
    }

    #[test]
    fn bodies_split_at_the_message_limit_and_join_again() {
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for max in [11, 64, 509, 1017, 100_000] {
            let msgs = messages(Kind::Item, 77, b"pre", &payload, max);
            assert!(msgs.iter().all(|m| m.len() <= max));
            let (kind, id, body) = join(&msgs);
            assert_eq!((kind, id), (Kind::Item, 77));
            assert_eq!(&body[..3], b"pre");
            assert_eq!(&body[3..], &payload[..]);
        }
        // An empty body is still one message.
        let msgs = messages(Kind::Cancel, 3, &[], &[], 1000);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].len(), HEADER);
        // A limit below the header still makes progress.
        assert_eq!(messages(Kind::Item, 1, &[], b"abc", 2).len(), 3);
    }

    #[test]
    fn requests_round_trip_and_bad_ones_are_described() {
        let prefix = request_prefix(PayloadKind::Typed(Codec::Json), 16, "sum");
        let mut body = prefix.clone();
        body.extend_from_slice(b"[1,2]");
        let r = parse_request(&body).unwrap();
        assert_eq!(r.payload_kind, PayloadKind::Typed(Codec::Json));
        assert_eq!((r.credit, r.method, r.payload), (16, "sum", &b"[1,2]"[..]));

        assert!(parse_request(&prefix[..5])
            .unwrap_err()
            .contains("truncated"));
        let mut bad_kind = prefix.clone();
        bad_kind[0] = 9;
        assert!(parse_request(&bad_kind)
            .unwrap_err()
            .contains("payload kind"));
        let mut long_name = prefix.clone();
        long_name[5] = 200;
        assert!(parse_request(&long_name).unwrap_err().contains("past"));
        let mut not_utf8 = prefix;
        not_utf8[7] = 0xff;
        assert!(parse_request(&not_utf8).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn errors_and_credits_round_trip() {
        let e = WireError {
            code: 2,
            a: 7,
            b: 9,
            message: "boom".into(),
        };
        assert_eq!(parse_error(&error_body(&e)).unwrap(), e);
        let long = WireError {
            message: "é".repeat(5000),
            ..e
        };
        let cut = parse_error(&error_body(&long)).unwrap().message;
        assert!(cut.len() <= ERROR_MESSAGE_MAX && cut.chars().all(|c| c == 'é'));
        assert!(parse_error(&[1, 2, 3]).is_err());
        assert_eq!(parse_credit(&credit_body(12)).unwrap(), 12);
        assert!(parse_credit(&[1]).is_err());
    }

    #[test]
    fn short_or_unknown_messages_are_not_attributed() {
        assert!(parse(&[1, 0, 0]).is_none());
        let mut m = messages(Kind::Response, 5, &[], b"x", 100).remove(0);
        assert!(parse(&m).is_some());
        m[0] = 99;
        assert!(parse(&m).is_none());
    }
}
