//! Recording and subscribe rules: lists of include/exclude filters over tracks.

use crate::error::Error;
use crate::track::TrackKind;

/// Include or exclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleType {
    /// Adds matching tracks.
    Include,
    /// Removes matching tracks.
    Exclude,
}

impl RuleType {
    /// `include` / `exclude`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Include => "include",
            Self::Exclude => "exclude",
        }
    }
}

/// One rule of a recording or subscribe rule set. Filters present in one rule are ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackRule {
    /// Include or exclude.
    pub rule_type: RuleType,
    /// `all: true` (must stand alone).
    pub all: Option<bool>,
    /// Track kind filter (`audio`/`video`).
    pub kind: Option<TrackKind>,
    /// Publisher identity or SID.
    pub publisher: Option<String>,
    /// Track name or SID.
    pub track: Option<String>,
    /// Subscribe rules only: the priority asked for matching tracks (kept, not acted on).
    pub priority: Option<String>,
}

/// A recording rule.
pub type RecordingRule = TrackRule;
/// A subscribe rule.
pub type SubscribeRule = TrackRule;

/// Largest number of rules in one request.
pub const MAX_RULES: usize = 20;

/// The checks both rule sets share; `why` of the first broken one.
fn first_broken(rules: &[TrackRule], data_allowed: bool) -> Option<&'static str> {
    if rules.is_empty() {
        return Some("an empty set of rules is not allowed");
    }
    if rules.len() > MAX_RULES {
        return Some("at most 20 rules are allowed");
    }
    rules.iter().find_map(|r| {
        let filtered = r.kind.is_some() || r.publisher.is_some() || r.track.is_some();
        match r.all {
            Some(false) => Some("'all' must be true"),
            Some(true) if filtered => Some("a rule with 'all' must not contain other filters"),
            None if !filtered => Some("a rule needs 'all' or at least one filter"),
            _ if !data_allowed && r.kind == Some(TrackKind::Data) => {
                Some("'kind' must be audio or video")
            }
            _ => None,
        }
    })
}

/// Checks recording rules as Twilio does (kinds audio and video only).
///
/// # Errors
/// `RecordingRulesInvalid` naming the broken rule.
pub fn validate_recording_rules(rules: &[RecordingRule]) -> Result<(), Error> {
    first_broken(rules, false).map_or(Ok(()), |why| Err(Error::RecordingRulesInvalid { why }))
}

/// The rules a participant starts with when its client does not say: subscribe to everything.
#[must_use]
pub fn subscribe_all() -> Vec<SubscribeRule> {
    vec![TrackRule {
        rule_type: RuleType::Include,
        all: Some(true),
        kind: None,
        publisher: None,
        track: None,
        priority: None,
    }]
}

/// Checks subscribe rules as Twilio does (any kind, including data, may be filtered).
///
/// # Errors
/// `SubscribeRulesInvalid` naming the broken rule.
pub fn validate_subscribe_rules(rules: &[SubscribeRule]) -> Result<(), Error> {
    first_broken(rules, true).map_or(Ok(()), |why| Err(Error::SubscribeRulesInvalid { why }))
}

/// A track some other participant publishes, as subscribe rules see it.
#[derive(Debug, Clone, Copy)]
pub struct RuleSubject<'a> {
    /// Publisher SID (text).
    pub publisher_sid: &'a str,
    /// Publisher identity.
    pub publisher_identity: &'a str,
    /// Track SID (text).
    pub track_sid: &'a str,
    /// Track name.
    pub track_name: &'a str,
    /// Kind.
    pub kind: TrackKind,
}

impl TrackRule {
    /// Whether every filter of the rule matches `t` (publisher and track by identity/name or SID,
    /// case-sensitive).
    #[must_use]
    pub fn matches(&self, t: &RuleSubject<'_>) -> bool {
        if self.all == Some(true) {
            return true;
        }
        self.kind.is_none_or(|k| k == t.kind)
            && self
                .publisher
                .as_deref()
                .is_none_or(|p| p == t.publisher_identity || p == t.publisher_sid)
            && self
                .track
                .as_deref()
                .is_none_or(|n| n == t.track_name || n == t.track_sid)
    }
}

/// Which of `tracks` the rules select: starting from nothing, each rule in order adds (include) or
/// removes (exclude) the tracks it matches. Returns indexes into `tracks`, in their order.
#[must_use]
pub fn select(rules: &[SubscribeRule], tracks: &[RuleSubject<'_>]) -> Vec<usize> {
    let mut chosen = vec![false; tracks.len()];
    for rule in rules {
        for (i, t) in tracks.iter().enumerate() {
            if rule.matches(t) {
                chosen[i] = rule.rule_type == RuleType::Include;
            }
        }
    }
    chosen
        .iter()
        .enumerate()
        .filter(|(_, c)| **c)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(all: Option<bool>, kind: Option<TrackKind>) -> RecordingRule {
        RecordingRule {
            priority: None,
            rule_type: RuleType::Include,
            all,
            kind,
            publisher: None,
            track: None,
        }
    }

    #[test]
    fn twilio_rules() {
        assert!(validate_recording_rules(&[rule(Some(true), None)]).is_ok());
        assert!(validate_recording_rules(&[]).is_err());
        assert!(validate_recording_rules(&[rule(Some(false), None)]).is_err());
        assert!(validate_recording_rules(&[rule(Some(true), Some(TrackKind::Audio))]).is_err());
        assert!(validate_recording_rules(&[rule(None, Some(TrackKind::Data))]).is_err());
        assert!(validate_recording_rules(&vec![rule(Some(true), None); 21]).is_err());
        assert!(validate_recording_rules(&[rule(None, Some(TrackKind::Video))]).is_ok());
    }
}

#[cfg(test)]
mod subscribe_tests {
    use super::*;

    fn rule(
        rule_type: RuleType,
        kind: Option<TrackKind>,
        publisher: Option<&str>,
    ) -> SubscribeRule {
        TrackRule {
            rule_type,
            all: None,
            kind,
            publisher: publisher.map(str::to_owned),
            track: None,
            priority: None,
        }
    }

    #[test]
    fn rules_apply_in_order() {
        let t = |p: &'static str, n: &'static str, k| RuleSubject {
            publisher_sid: "PA1",
            publisher_identity: p,
            track_sid: n,
            track_name: n,
            kind: k,
        };
        let tracks = [
            t("alice", "a-mic", TrackKind::Audio),
            t("alice", "a-cam", TrackKind::Video),
            t("bob", "b-mic", TrackKind::Audio),
        ];
        assert_eq!(select(&subscribe_all(), &tracks), [0, 1, 2]);
        let no_video = [
            subscribe_all()[0].clone(),
            rule(RuleType::Exclude, Some(TrackKind::Video), None),
        ];
        assert_eq!(select(&no_video, &tracks), [0, 2]);
        let only_bob = [rule(RuleType::Include, None, Some("bob"))];
        assert_eq!(select(&only_bob, &tracks), [2]);
        let all_but_then_alice_audio = [
            TrackRule {
                rule_type: RuleType::Exclude,
                ..subscribe_all()[0].clone()
            },
            rule(RuleType::Include, Some(TrackKind::Audio), Some("alice")),
        ];
        assert_eq!(select(&all_but_then_alice_audio, &tracks), [0]);
        assert!(validate_subscribe_rules(&[]).is_err());
        assert!(
            validate_subscribe_rules(&[rule(RuleType::Include, Some(TrackKind::Data), None)])
                .is_ok()
        );
    }
}
