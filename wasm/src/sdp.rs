//! What the backend reads in and changes about descriptions, beyond what the browser
//! exposes: the remote's `a=msid` ids and offered direction per mid, the stream ids and
//! the `a=max-message-size` this peer hands out.

use unipeer_core::TrackDirection;

/// The media section whose `a=mid` is `mid` (from its `m=` line to the next one).
fn section<'a>(sdp: &'a str, mid: &str) -> Option<&'a str> {
    let (mut start, mut offset, mut found) = (0, 0, false);
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("m=") {
            if found {
                return Some(&sdp[start..offset]);
            }
            start = offset;
        } else if line
            .strip_prefix("a=mid:")
            .is_some_and(|m| m.trim_ascii() == mid)
        {
            found = true;
        }
        offset += line.len();
    }
    found.then(|| &sdp[start..])
}

/// The remote's `(stream id, track id)` for the section `mid`: its `a=msid:` line, else a
/// legacy `a=ssrc:<n> msid:` line. `None` when it names no stream (`-`) or has no msid
/// (a section the remote does not send on).
pub(crate) fn msid(sdp: &str, mid: &str) -> Option<(String, String)> {
    let lines = || section(sdp, mid).into_iter().flat_map(str::lines);
    let value = lines()
        .find_map(|l| l.strip_prefix("a=msid:"))
        .or_else(|| {
            lines().find_map(|l| {
                let rest = l.strip_prefix("a=ssrc:")?;
                rest.split_once(' ')?.1.strip_prefix("msid:")
            })
        })?;
    let mut ids = value.split_ascii_whitespace();
    let stream = ids.next()?;
    let track = ids.next().unwrap_or("");
    (stream != "-").then(|| (stream.to_string(), track.to_string()))
}

/// The direction the description gives the section `mid` (its sender's view), or `None`
/// when the section is absent or rejected (port 0).
pub(crate) fn direction(sdp: &str, mid: &str) -> Option<TrackDirection> {
    let mut lines = section(sdp, mid)?.lines();
    let port = lines.next()?.split_ascii_whitespace().nth(1);
    if port == Some("0") {
        return None;
    }
    let found = lines.find_map(|l| match l.trim_ascii_end() {
        "a=sendrecv" => Some(TrackDirection::SendRecv),
        "a=sendonly" => Some(TrackDirection::SendOnly),
        "a=recvonly" => Some(TrackDirection::RecvOnly),
        "a=inactive" => Some(TrackDirection::Inactive),
        _ => None,
    });
    // RFC 4566: sendrecv when the section says nothing.
    Some(found.unwrap_or(TrackDirection::SendRecv))
}

/// The answerer's side of an offered direction.
pub(crate) fn counterpart(offered: TrackDirection) -> TrackDirection {
    match offered {
        TrackDirection::SendOnly => TrackDirection::RecvOnly,
        TrackDirection::RecvOnly => TrackDirection::SendOnly,
        d => d,
    }
}

/// The browser's name of a direction back to ours (`stopped` and unknown: `Inactive`).
pub(crate) fn parse_direction(s: &str) -> TrackDirection {
    match s {
        "sendrecv" => TrackDirection::SendRecv,
        "sendonly" => TrackDirection::SendOnly,
        "recvonly" => TrackDirection::RecvOnly,
        _ => TrackDirection::Inactive,
    }
}

/// `sdp` with the browser's stream ids replaced by the application's, in the lines that
/// carry them (`a=msid:`, `a=ssrc:<n> msid:`, `a=msid-semantic:`). The browser picks a
/// `MediaStream`'s id itself; the remote only ever sees the description handed out, so
/// renaming there gives it the application's id (the browser's own description keeps its
/// id, which nothing else reads).
pub(crate) fn rename_streams(sdp: &str, renames: &[(String, String)]) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if !(line.starts_with("a=msid") || line.starts_with("a=ssrc:")) {
            out.push_str(line);
            continue;
        }
        // Whole tokens only: ids end at ':', ' ' or the line's end.
        let mut token = 0;
        for (i, b) in line.bytes().enumerate() {
            if matches!(b, b':' | b' ' | b'\r' | b'\n') {
                push_token(&mut out, &line[token..i], renames);
                out.push(char::from(b));
                token = i + 1;
            }
        }
        push_token(&mut out, &line[token..], renames);
    }
    out
}

fn push_token(out: &mut String, token: &str, renames: &[(String, String)]) {
    match renames.iter().find(|(from, _)| from == token) {
        Some((_, to)) => out.push_str(to),
        None => out.push_str(token),
    }
}

/// Lowers the SDP's `a=max-message-size` to `limit` (never raises it: the browser receives
/// no more than it advertised).
pub(crate) fn limit_max_message_size(sdp: &str, limit: usize) -> String {
    let line = format!("a=max-message-size:{limit}\r\n");
    // No line means 65536: then say a lower limit after the SCTP port.
    let absent = !sdp.lines().any(|l| l.starts_with("a=max-message-size:"));
    let mut out = String::with_capacity(sdp.len() + line.len());
    for l in sdp.split_inclusive('\n') {
        match l.trim_ascii_end().strip_prefix("a=max-message-size:") {
            Some(v) => {
                let current = match v.trim_ascii().parse::<u64>() {
                    Ok(0) | Err(_) => usize::MAX,
                    Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                };
                out.push_str(if limit < current { &line } else { l });
            }
            None => {
                out.push_str(l);
                if absent && limit < 65_536 && l.starts_with("a=sctp-port:") {
                    out.push_str(&line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unipeer_core::SessionDescription;
    use wasm_bindgen_test::wasm_bindgen_test;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    const SDP: &str = "v=0\r\n\
        a=msid-semantic: WMS abc-1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:0\r\n\
        a=sendonly\r\n\
        a=msid:abc-1 t-audio\r\n\
        a=ssrc:1 msid:abc-1 t-audio\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:1\r\n\
        a=inactive\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:2\r\n\
        a=ssrc:7 msid:legacy t-video\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:3\r\n\
        a=msid:- t-lonely\r\n";

    #[wasm_bindgen_test]
    fn msid_per_section() {
        assert_eq!(msid(SDP, "0"), Some(("abc-1".into(), "t-audio".into())));
        assert_eq!(msid(SDP, "1"), None, "no msid: the remote does not send");
        assert_eq!(
            msid(SDP, "2"),
            Some(("legacy".into(), "t-video".into())),
            "legacy ssrc lines"
        );
        assert_eq!(msid(SDP, "3"), None, "'-' is no stream");
        assert_eq!(msid(SDP, "9"), None);
    }

    #[wasm_bindgen_test]
    fn directions_and_counterparts() {
        assert_eq!(direction(SDP, "0"), Some(TrackDirection::SendOnly));
        assert_eq!(direction(SDP, "1"), None, "port 0 is a rejected section");
        assert_eq!(direction(SDP, "2"), Some(TrackDirection::SendRecv));
        assert_eq!(
            counterpart(TrackDirection::SendOnly),
            TrackDirection::RecvOnly
        );
        assert_eq!(
            counterpart(TrackDirection::SendRecv),
            TrackDirection::SendRecv
        );
    }

    #[wasm_bindgen_test]
    fn stream_ids_are_renamed_as_whole_tokens() {
        let renames = [("abc-1".to_string(), "camera".to_string())];
        let out = rename_streams(SDP, &renames);
        assert!(out.contains("a=msid-semantic: WMS camera\r\n"), "{out}");
        assert!(out.contains("a=msid:camera t-audio\r\n"), "{out}");
        assert!(out.contains("a=ssrc:1 msid:camera t-audio\r\n"), "{out}");
        assert_eq!(msid(&out, "0"), Some(("camera".into(), "t-audio".into())));
        let partial = [("abc".to_string(), "x".to_string())];
        assert_eq!(rename_streams(SDP, &partial), SDP, "no partial matches");
        assert_eq!(
            out.len(),
            SDP.len() + "camera".len() * 3 - "abc-1".len() * 3
        );
    }

    #[wasm_bindgen_test]
    fn max_message_size_is_only_lowered() {
        let sdp = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
        let lower = limit_max_message_size(sdp, 65_536);
        assert_eq!(SessionDescription::offer(lower).max_message_size(), 65_536);
        let same = limit_max_message_size(sdp, 1 << 20);
        assert_eq!(same, sdp, "never raised above what the browser takes");
        let absent = "a=sctp-port:5000\r\na=mid:0\r\n";
        let added = limit_max_message_size(absent, 4096);
        assert_eq!(
            added,
            "a=sctp-port:5000\r\na=max-message-size:4096\r\na=mid:0\r\n"
        );
        assert_eq!(limit_max_message_size(absent, 1 << 20), absent);
    }
}
