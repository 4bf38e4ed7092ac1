//! The little SDP text work str0m does not do for us: reading which client track each m-line carries
//! (str0m drops `a=msid:- <track>` lines whose stream is "-", which twilio-video.js always sends), and
//! narrowing the directions of the client's own m-lines before str0m answers them.

/// One m-section of an SDP, as far as we need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `a=mid`
    pub mid: String,
    /// `audio`, `video` or `application`.
    pub media: String,
    /// `sendrecv`, `sendonly`, `recvonly` or `inactive` (`sendrecv` when absent).
    pub direction: String,
    /// The track id of `a=msid:<stream> <track>`, if any.
    pub track_id: Option<String>,
    /// SSRCs of `a=ssrc:` lines, in order of first appearance.
    pub ssrcs: Vec<u32>,
    /// `a=ssrc-group:FID <primary> <repair>` pairs.
    pub repairs: Vec<(u32, u32)>,
    /// `a=ssrc-group:SIM` SSRCs: simulcast layers, lowest first (twilio-video.js's SSRC munging).
    pub simulcast_ssrcs: Vec<u32>,
    /// The rids of `a=simulcast:send`, in the order given (RID-based simulcast).
    pub simulcast_rids: Vec<String>,
}

impl Section {
    /// The stream layers this m-section announces, lowest first: the SIM group's SSRCs, else its
    /// primary (non-repair) SSRCs. Empty when it announces none (RID-based or undeclared streams).
    #[must_use]
    pub fn layer_ssrcs(&self) -> Vec<u32> {
        if !self.simulcast_ssrcs.is_empty() {
            return self.simulcast_ssrcs.clone();
        }
        self.ssrcs
            .iter()
            .copied()
            .filter(|s| !self.repairs.iter().any(|(_, repair)| repair == s))
            .collect()
    }
}

fn ssrc_list(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// Splits an SDP into its m-sections (any line ending).
#[must_use]
pub fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("m=") {
            out.push(Section {
                mid: String::new(),
                media: rest.split(' ').next().unwrap_or_default().to_owned(),
                direction: "sendrecv".to_owned(),
                track_id: None,
                ssrcs: Vec::new(),
                repairs: Vec::new(),
                simulcast_ssrcs: Vec::new(),
                simulcast_rids: Vec::new(),
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            mid.trim().clone_into(&mut section.mid);
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            section.track_id = msid.split_whitespace().nth(1).map(str::to_owned);
        } else if let Some(group) = line.strip_prefix("a=ssrc-group:FID ") {
            if let [primary, repair] = ssrc_list(group)[..] {
                section.repairs.push((primary, repair));
            }
        } else if let Some(group) = line.strip_prefix("a=ssrc-group:SIM ") {
            section.simulcast_ssrcs = ssrc_list(group);
        } else if let Some(ssrc) = line.strip_prefix("a=ssrc:") {
            if let Some(n) = ssrc.split([' ', ':']).next().and_then(|n| n.parse().ok())
                && !section.ssrcs.contains(&n)
            {
                section.ssrcs.push(n);
            }
        } else if let Some(rest) = line.strip_prefix("a=simulcast:send ") {
            // `a=simulcast:send q;h;f [recv …]`: alternatives (`,`) are not used by browsers.
            let send = rest.split_whitespace().next().unwrap_or_default();
            section.simulcast_rids = send
                .split(';')
                .map(|r| r.trim_start_matches('~').to_owned())
                .filter(|r| !r.is_empty())
                .collect();
        } else if matches!(
            line,
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) {
            line[2..].clone_into(&mut section.direction);
        }
    }
    out
}

/// Rewrites the directions of the client's own m-lines (those whose mid is not in `server_mids`)
/// so that str0m's answer only receives on them: `sendrecv` becomes `sendonly` (str0m answers
/// `recvonly`) and `recvonly` becomes `inactive`. The media server sends on m-lines it offered itself,
/// never on the client's, exactly as Twilio's answers do.
#[must_use]
pub fn narrow_client_directions(sdp: &str, server_mids: &[String]) -> String {
    let mut out = String::with_capacity(sdp.len());
    let mut current_mid: Option<String> = None;
    let mut pending_direction: Option<String> = None;
    let mut lines: Vec<String> = Vec::new();
    let flush = |lines: &mut Vec<String>,
                 out: &mut String,
                 mid: &Option<String>,
                 direction: &Option<String>| {
        let ours = mid.as_ref().is_some_and(|m| server_mids.contains(m));
        for l in lines.drain(..) {
            let replaced = if ours || direction.is_none() {
                l
            } else {
                match l.as_str() {
                    "a=sendrecv" => "a=sendonly".to_owned(),
                    "a=recvonly" => "a=inactive".to_owned(),
                    _ => l,
                }
            };
            out.push_str(&replaced);
            out.push_str("\r\n");
        }
    };
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        if line.starts_with("m=") {
            flush(&mut lines, &mut out, &current_mid, &pending_direction);
            current_mid = None;
            pending_direction = Some(String::new());
        }
        if let Some(mid) = line.strip_prefix("a=mid:") {
            current_mid = Some(mid.trim().to_owned());
        }
        lines.push(line.to_owned());
    }
    flush(&mut lines, &mut out, &current_mid, &pending_direction);
    out
}

/// The header extension of transport-wide congestion control (TWCC), whose sequence numbers make
/// the receiver of a stream send feedback about every packet.
const TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// The same SDP without the transport-wide-cc header extension (`a=extmap:N … transport-wide-cc`)
/// on the m-lines whose mid is in `mids`; every other line as it was.
///
/// For the m-lines the media server sends on to a client whose downstream it does not estimate:
/// without that extension negotiated, the packets it sends there carry no transport-wide sequence
/// number, and the client sends no feedback about them (20 datagrams a second from a str0m
/// client, about 10 from a browser, each decrypted and matched against the send history — with
/// 500 subscribers, a tenth of the worker's time and 90 % of what reached its socket, for feedback
/// nothing read). The client's own m-lines keep it, so what it publishes is still acknowledged and
/// its upstream estimated.
#[must_use]
pub fn without_transport_cc(sdp: &str, mids: &[String]) -> String {
    let mut out = String::with_capacity(sdp.len());
    let mut section: Vec<&str> = Vec::new();
    let flush = |section: &mut Vec<&str>, out: &mut String| {
        let ours = section.iter().any(|l| {
            l.strip_prefix("a=mid:")
                .is_some_and(|m| mids.iter().any(|s| s == m.trim()))
        });
        for l in section.drain(..) {
            let twcc =
                l.starts_with("a=extmap:") && l.split_whitespace().nth(1) == Some(TRANSPORT_CC);
            if !(ours && twcc) {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
    };
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        if line.starts_with("m=") {
            flush(&mut section, &mut out);
        }
        section.push(line);
    }
    flush(&mut section, &mut out);
    out
}

/// The same SDP with CRLF line endings (twilio-video.js splits on `\r\nm=`).
#[must_use]
pub fn crlf(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=msid:- mic-1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendrecv\r\na=msid:- cam-1\r\n";

    #[test]
    fn reads_sections() {
        let s = sections(OFFER);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (
                s[0].mid.as_str(),
                s[0].direction.as_str(),
                s[0].track_id.as_deref()
            ),
            ("0", "sendrecv", Some("mic-1"))
        );
        assert_eq!(
            (
                s[1].media.as_str(),
                s[1].direction.as_str(),
                s[1].track_id.as_deref()
            ),
            ("video", "recvonly", None)
        );
    }

    #[test]
    fn reads_simulcast_layers() {
        let sdp = "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=sendrecv\r\n\
            a=msid:- cam\r\na=ssrc-group:FID 11 12\r\na=ssrc-group:FID 21 22\r\n\
            a=ssrc-group:FID 31 32\r\na=ssrc:11 cname:x\r\na=ssrc:11 msid:- cam\r\n\
            a=ssrc:12 cname:x\r\na=ssrc:21 cname:x\r\na=ssrc:22 cname:x\r\n\
            a=ssrc:31 cname:x\r\na=ssrc:32 cname:x\r\na=ssrc-group:SIM 11 21 31\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:2\r\na=ssrc-group:FID 41 42\r\n\
            a=ssrc:41 cname:y\r\na=ssrc:42 cname:y\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:3\r\na=simulcast:send q;h;~f\r\n";
        let s = sections(sdp);
        assert_eq!(
            s[0].layer_ssrcs(),
            [11, 21, 31],
            "the SIM group, lowest first"
        );
        assert_eq!(s[0].repairs.len(), 3);
        assert_eq!(s[1].layer_ssrcs(), [41], "one primary, its repair left out");
        assert_eq!(s[2].simulcast_rids, ["q", "h", "f"]);
        assert!(s[2].layer_ssrcs().is_empty());
    }

    #[test]
    fn transport_cc_goes_only_from_the_m_lines_named() {
        let sdp = "v=0\r\ns=-\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
            a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
            a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
            a=rtcp-fb:96 transport-cc\r\n";
        let out = without_transport_cc(sdp, &["1".to_owned()]);
        assert_eq!(
            out,
            "v=0\r\ns=-\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
            a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
            a=rtcp-fb:96 transport-cc\r\n"
        );
        assert_eq!(
            without_transport_cc(sdp, &[]),
            sdp,
            "nothing named, nothing changed"
        );
    }

    #[test]
    fn narrows_only_client_lines() {
        let out = narrow_client_directions(OFFER, &["2".to_owned()]);
        let s = sections(&out);
        assert_eq!(
            s.iter().map(|x| x.direction.as_str()).collect::<Vec<_>>(),
            ["sendonly", "inactive", "sendrecv"],
            "a server m-line the client recycled keeps sendrecv"
        );
        assert!(out.contains("a=group:BUNDLE 0 1 2\r\n") && out.ends_with("\r\n"));
        assert_eq!(crlf("a\nb\r\n"), "a\r\nb\r\n");
    }
}
