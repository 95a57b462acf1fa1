/// Whether a session description is an offer or an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// The description starts a negotiation.
    Offer,
    /// The description completes a negotiation.
    Answer,
}

impl SdpType {
    /// The browser's name for the type: `"offer"` or `"answer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Answer => "answer",
        }
    }
}

/// A session description to carry to the remote peer over your signaling channel.
///
/// The same value the browser calls `RTCSessionDescriptionInit`: send `kind` and `sdp`,
/// rebuild it on the other side.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Offer or answer.
    pub kind: SdpType,
    /// The SDP text.
    pub sdp: String,
}

impl SessionDescription {
    /// An offer with this SDP text.
    pub fn offer(sdp: impl Into<String>) -> Self {
        Self {
            kind: SdpType::Offer,
            sdp: sdp.into(),
        }
    }

    /// An answer with this SDP text.
    pub fn answer(sdp: impl Into<String>) -> Self {
        Self {
            kind: SdpType::Answer,
            sdp: sdp.into(),
        }
    }

    /// The `a=max-message-size` the description advertises for data channels. Absent means
    /// 65536 (RFC 8841); 0 means no limit (reported as `usize::MAX`).
    pub fn max_message_size(&self) -> usize {
        let advertised = self
            .sdp
            .lines()
            .find_map(|l| l.trim_ascii().strip_prefix("a=max-message-size:"))
            .and_then(|v| v.trim_ascii().parse::<u64>().ok());
        match advertised {
            None => 65_536,
            Some(0) => usize::MAX,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// The media ids (`a=mid`) in the order of their m-lines.
    pub fn mids(&self) -> Vec<String> {
        self.sdp
            .lines()
            .filter_map(|l| l.trim_ascii().strip_prefix("a=mid:"))
            .map(|m| m.trim_ascii().to_string())
            .collect()
    }

    /// `(mid, stream id, track id)` of every media section with an `a=msid` line: what
    /// the description says its tracks are.
    ///
    /// ```
    /// # use unipeer_core::SessionDescription;
    /// let d = SessionDescription::offer("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:cam v0\r\n");
    /// assert_eq!(d.msids(), vec![("1".into(), "cam".into(), "v0".into())]);
    /// ```
    pub fn msids(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut section: (Option<&str>, Option<(&str, &str)>) = (None, None);
        let mut flush = |s: &mut (Option<&str>, Option<(&str, &str)>)| {
            if let (Some(m), Some((st, t))) = (s.0.take(), s.1.take()) {
                out.push((m.to_string(), st.to_string(), t.to_string()));
            }
            *s = (None, None);
        };
        for line in self.sdp.lines().map(str::trim_ascii) {
            if line.starts_with("m=") {
                flush(&mut section);
            } else if let Some(m) = line.strip_prefix("a=mid:") {
                section.0 = Some(m);
            } else if let Some(rest) = line.strip_prefix("a=msid:") {
                let mut parts = rest.split_ascii_whitespace();
                if let (Some(st), Some(t)) = (parts.next(), parts.next()) {
                    section.1 = Some((st, t));
                }
            }
        }
        flush(&mut section);
        out
    }
}

// SDP carries ICE passwords: keep it out of logs that print values with `{:?}`.
impl std::fmt::Debug for SessionDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionDescription")
            .field("kind", &self.kind)
            .field("sdp", &format_args!("<{} bytes>", self.sdp.len()))
            .finish()
    }
}

/// One ICE candidate, trickled to the remote peer (the browser's `RTCIceCandidateInit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceCandidate {
    /// The candidate line, `candidate:...` (the `a=` prefix is optional).
    pub candidate: String,
    /// The media id the candidate belongs to.
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    pub sdp_m_line_index: Option<u16>,
}
