//! Recording and subscribe rules as they arrive over REST: JSON, either a list of rules or
//! `{"rules": [...]}` (twilio-node's shape). Each broken rule is reported with the rule set's own
//! Twilio code (53120 recording, 53215 subscribe).

use serde_json::Value;
use vroom_domain::rules::{RuleType, TrackRule};
use vroom_domain::track::TrackKind;

use crate::error::{ApiError, ApiResult};

/// Which rule set is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `RecordingRules`: kinds audio and video only, no priority.
    Recording,
    /// Subscribe `Rules`: any kind, optional priority.
    Subscribe,
}

impl Purpose {
    /// The error for a request without its rules.
    pub(crate) fn missing(self) -> ApiError {
        self.bad("the Rules parameter is required")
    }

    fn bad(self, why: &'static str) -> ApiError {
        ApiError::Rule(match self {
            Self::Recording => vroom_domain::Error::RecordingRulesInvalid { why },
            Self::Subscribe => vroom_domain::Error::SubscribeRulesInvalid { why },
        })
    }
}

/// Parses a rule set.
///
/// # Errors
/// The rule set's Twilio error naming what is wrong.
pub(crate) fn parse(text: &str, purpose: Purpose) -> ApiResult<Vec<TrackRule>> {
    let bad = |why| purpose.bad(why);
    let value: Value = serde_json::from_str(text).map_err(|_| bad("not valid JSON"))?;
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut o) => match o.remove("rules") {
            Some(Value::Array(list)) => list,
            _ => return Err(bad("expected a list of rules")),
        },
        _ => return Err(bad("expected a list of rules")),
    };
    list.iter().map(|r| parse_rule(r, purpose)).collect()
}

fn parse_rule(r: &Value, purpose: Purpose) -> ApiResult<TrackRule> {
    let bad = |why| purpose.bad(why);
    let o = r
        .as_object()
        .ok_or_else(|| bad("each rule must be an object"))?;
    let allowed = |k: &str| {
        matches!(k, "type" | "all" | "kind" | "publisher" | "track")
            || (purpose == Purpose::Subscribe && k == "priority")
    };
    if o.keys().any(|k| !allowed(k)) {
        return Err(bad("unknown rule field"));
    }
    let rule_type = match o.get("type").and_then(Value::as_str) {
        Some("include") => RuleType::Include,
        Some("exclude") => RuleType::Exclude,
        _ => return Err(bad("every rule needs a type of include or exclude")),
    };
    let text = |k: &str| -> ApiResult<Option<String>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad("publisher, track, kind and priority must be strings")),
        }
    };
    let all = match o.get("all") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("'all' must be true")),
    };
    let kind = match text("kind")? {
        None => None,
        Some(k) => {
            Some(TrackKind::parse(&k).ok_or_else(|| bad("'kind' must be audio, video or data"))?)
        }
    };
    if purpose == Purpose::Recording && kind == Some(TrackKind::Data) {
        return Err(bad("'kind' must be audio or video"));
    }
    Ok(TrackRule {
        rule_type,
        all,
        kind,
        publisher: text("publisher")?,
        track: text("track")?,
        priority: text("priority")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_and_each_purpose() {
        let rules = parse(
            r#"{"rules":[{"type":"exclude","all":true}]}"#,
            Purpose::Recording,
        )
        .unwrap();
        assert_eq!(rules[0].all, Some(true));
        let rules = parse(
            r#"[{"type":"include","kind":"data","priority":"high"}]"#,
            Purpose::Subscribe,
        )
        .unwrap();
        assert_eq!(
            (rules[0].kind, rules[0].priority.as_deref()),
            (Some(TrackKind::Data), Some("high"))
        );
        let code = |t: &str, p| parse(t, p).unwrap_err().twilio_code();
        assert_eq!(
            code(r#"[{"type":"include","kind":"data"}]"#, Purpose::Recording),
            53120
        );
        assert_eq!(
            code(
                r#"[{"type":"include","priority":"high"}]"#,
                Purpose::Recording
            ),
            53120
        );
        assert_eq!(code("nope", Purpose::Subscribe), 53215);
        assert_eq!(code(r#"[{"all":true}]"#, Purpose::Subscribe), 53215);
    }
}
