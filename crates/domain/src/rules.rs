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

/// One recording rule. Filters present in one rule are ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordingRule {
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
}

/// Largest number of rules in one request.
pub const MAX_RULES: usize = 20;

/// Checks recording rules as Twilio does.
///
/// # Errors
/// `RecordingRulesInvalid` naming the broken rule.
pub fn validate_recording_rules(rules: &[RecordingRule]) -> Result<(), Error> {
    let bad = |why| Err(Error::RecordingRulesInvalid { why });
    if rules.is_empty() {
        return bad("an empty set of rules is not allowed");
    }
    if rules.len() > MAX_RULES {
        return bad("at most 20 rules are allowed");
    }
    for r in rules {
        if let Some(all) = r.all {
            if !all {
                return bad("'all' must be true");
            }
            if r.kind.is_some() || r.publisher.is_some() || r.track.is_some() {
                return bad("a rule with 'all' must not contain other filters");
            }
        } else if r.kind.is_none() && r.publisher.is_none() && r.track.is_none() {
            return bad("a rule needs 'all' or at least one filter");
        }
        if r.kind == Some(TrackKind::Data) {
            return bad("'kind' must be audio or video");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(all: Option<bool>, kind: Option<TrackKind>) -> RecordingRule {
        RecordingRule {
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
