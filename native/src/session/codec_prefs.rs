//! A track's codec preferences in our offers: str0m offers every configured codec in
//! every section, so the sections of tracks with preferences are narrowed to the
//! preferred codecs (with their retransmission payload types), in the preferred order,
//! as the browser's `setCodecPreferences` does. The remote answers from what is offered,
//! and str0m follows the answer.

use unipeer_core::Codec;

/// `sdp` with the payload types of each section named in `prefs` restricted and ordered.
pub(super) fn apply(sdp: &str, prefs: &[(String, Vec<Codec>)]) -> String {
    if prefs.is_empty() {
        return sdp.to_string();
    }
    let mut out = String::with_capacity(sdp.len());
    for section in split_sections(sdp) {
        let mid = section
            .iter()
            .find_map(|l| l.strip_prefix("a=mid:"))
            .map(str::trim);
        match mid.and_then(|m| prefs.iter().find(|(pm, _)| pm == m)) {
            Some((_, codecs)) => narrow(&section, codecs, &mut out),
            None => section.iter().for_each(|l| push_line(&mut out, l)),
        }
    }
    out
}

/// The session part, then one slice of lines per `m=` section.
fn split_sections(sdp: &str) -> Vec<Vec<&str>> {
    let mut sections = vec![Vec::new()];
    for line in sdp.lines() {
        if line.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let Some(current) = sections.last_mut() {
            current.push(line);
        }
    }
    sections
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push_str("\r\n");
}

/// The payload type an `a=<attr>:<pt> ...` line is about.
fn pt_of<'a>(line: &'a str, attr: &str) -> Option<&'a str> {
    line.strip_prefix(attr)?.split_whitespace().next()
}

fn narrow(section: &[&str], codecs: &[Codec], out: &mut String) {
    // pt -> codec (for main codecs), and rtx pt -> the pt it repairs.
    let mut main: Vec<(&str, Codec)> = Vec::new();
    let mut rtx: Vec<(&str, &str)> = Vec::new();
    for line in section {
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rest.split_whitespace();
            let (Some(pt), Some(enc)) = (parts.next(), parts.next()) else {
                continue;
            };
            let name = enc.split('/').next().unwrap_or(enc);
            if let Some(c) = Codec::from_name(name) {
                main.push((pt, c));
            }
        } else if let Some(rest) = line.strip_prefix("a=fmtp:") {
            let mut parts = rest.splitn(2, ' ');
            let (Some(pt), Some(params)) = (parts.next(), parts.next()) else {
                continue;
            };
            if let Some(apt) = params
                .split(';')
                .find_map(|p| p.trim().strip_prefix("apt="))
            {
                rtx.push((pt, apt));
            }
        }
    }
    let mut keep: Vec<&str> = Vec::new();
    for c in codecs {
        keep.extend(main.iter().filter(|(_, mc)| mc == c).map(|(pt, _)| *pt));
    }
    if keep.is_empty() {
        // Nothing preferred is configured: leave the section as str0m made it rather
        // than offer a section without codecs.
        section.iter().for_each(|l| push_line(out, l));
        return;
    }
    let repairs: Vec<&str> = keep
        .iter()
        .filter_map(|pt| rtx.iter().find(|(_, apt)| apt == pt).map(|(r, _)| *r))
        .collect();
    let formats: Vec<&str> = keep.iter().chain(repairs.iter()).copied().collect();
    let kept = |pt: &str| formats.contains(&pt);
    for line in section {
        if line.starts_with("m=") {
            // m=<media> <port> <proto> <fmt>...
            let head: Vec<&str> = line.split_whitespace().take(3).collect();
            push_line(out, &format!("{} {}", head.join(" "), formats.join(" ")));
            continue;
        }
        let about = ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
            .iter()
            .find_map(|attr| pt_of(line, attr));
        match about {
            Some(pt) if pt != "*" && !kept(pt) => {}
            _ => push_line(out, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45 46\r\n\
        a=mid:v\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n\
        a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
        a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n\
        a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n\
        a=rtpmap:45 AV1/90000\r\n\
        a=rtpmap:46 rtx/90000\r\na=fmtp:46 apt=45\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn preferred_codecs_are_kept_in_order_with_their_retransmissions() {
        let sdp = apply(OFFER, &[("v".into(), vec![Codec::Av1, Codec::Vp8])]);
        assert!(
            sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 45 96 46 97\r\n"),
            "{sdp}"
        );
        assert!(!sdp.contains("VP9"));
        assert!(!sdp.contains("a=fmtp:99"));
        assert!(sdp.contains("a=rtcp-fb:96 nack"));
        // Other sections are untouched.
        assert!(sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\n"));
    }

    #[test]
    fn a_preference_nothing_matches_leaves_the_section_alone() {
        let sdp = apply(OFFER, &[("v".into(), vec![Codec::H264])]);
        assert_eq!(sdp, OFFER);
    }
}
