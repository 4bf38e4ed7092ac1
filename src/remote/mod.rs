//! The operator commands (`vroom rooms …`, `vroom participants …`): a small client of a running
//! server's REST API, like `lk room` or `twilio api:video`. They speak the same `/v1` a Twilio helper
//! library does, with the API key's credentials, and print a table (or the resources as JSON).
//!
//! # Layout
//! - this file: the client (`Remote`: base URL, credentials, Twilio errors as one line), paging;
//! - `table`: column output;
//! - `rooms`, `participants`: the commands.

pub mod participants;
pub mod rooms;
pub mod table;

use anyhow::Context;
use serde_json::Value;

pub use participants::ParticipantsCommand;
pub use rooms::RoomsCommand;

/// Where and how the operator commands reach the server.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The server's base URL [default: the configured public URL, else http://<listen address>].
    #[arg(long, env = "VROOM_URL", global = true)]
    pub url: Option<String>,
    /// Print the REST resources as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A running server's REST API, with credentials.
pub struct Remote {
    base: String,
    user: String,
    password: String,
    http: reqwest::Client,
    /// Print JSON rather than tables.
    pub json: bool,
}

impl Remote {
    /// A client of `base` (no trailing slash needed) authenticating as `user:password`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str, user: String, password: String, json: bool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            user,
            password,
            http,
            json,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                // The innermost cause says it best ("Connection refused (os error 111)").
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why = s.to_string();
                    source = s.source();
                }
                anyhow::anyhow!(
                    "cannot reach vroom at {} ({why}); is `vroom serve` running there? (--url, VROOM_URL)",
                    self.base
                )
            })?;
        let status = resp.status();
        let text = resp.text().await.context("reading the answer")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        // Twilio's error body: {code, message, more_info, status}.
        match (body["code"].as_u64(), body["message"].as_str()) {
            (Some(code), Some(message)) => {
                anyhow::bail!("{message} (Twilio error {code}, HTTP {})", status.as_u16())
            }
            _ => anyhow::bail!(
                "the server answered HTTP {}: {}",
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            ),
        }
    }

    /// `GET path` (with `query`).
    ///
    /// # Errors
    /// When the server cannot be reached or answers with an error.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    /// `POST path` with a form body.
    ///
    /// # Errors
    /// When the server cannot be reached or answers with an error.
    pub async fn post(&self, path: &str, form: &[(String, String)]) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).form(form)).await
    }

    /// Up to `limit` items of a list (`key` in each page), following `meta.next_page_url`.
    ///
    /// # Errors
    /// When a page cannot be read.
    pub async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        limit: usize,
    ) -> anyhow::Result<Vec<Value>> {
        let page_size = limit.clamp(1, 1000).to_string();
        let mut query: Vec<(&str, String)> = query.to_vec();
        query.push(("PageSize", page_size));
        let mut page = self.get(path, &query).await?;
        let mut items = Vec::new();
        loop {
            let key = page["meta"]["key"].as_str().unwrap_or_default().to_owned();
            if let Some(found) = page[&key].as_array() {
                items.extend(found.iter().cloned());
            }
            let next = page["meta"]["next_page_url"].as_str().map(str::to_owned);
            match next {
                Some(next) if items.len() < limit => page = self.get(&next, &[]).await?,
                _ => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }

    /// Prints `value` as pretty JSON.
    pub fn print_json(value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }
}

/// A path segment (a SID, a unique name, an identity), percent-encoded.
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `KEY=VALUE` pairs given with `--param`, for Twilio parameters without a flag of their own.
fn params(given: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--param '{p}': expected Name=value"))
        })
        .collect()
}

/// A field of a resource as text: strings as they are, null as `-`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Seconds as `1h02m03s`, `4m05s` or `6s`.
fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A resource's duration: its `duration` once it ended, else the time since `since` (live).
fn lasted(resource: &Value, since: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    if let Some(d) = resource["duration"].as_i64() {
        return duration(d);
    }
    match resource[since]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    {
        Some(start) => format!(
            "{} (live)",
            duration(
                (now - start.with_timezone(&chrono::Utc))
                    .num_seconds()
                    .max(0)
            )
        ),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (61, "1m01s"),
            (3600, "1h00m00s"),
            (3725, "1h02m05s"),
        ];
        for (secs, shown) in cases {
            assert_eq!(duration(secs), shown);
        }
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:01:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let live = serde_json::json!({"duration": null, "start_time": "2026-12-01T10:00:00Z"});
        assert_eq!(lasted(&live, "start_time", now), "1m05s (live)");
        let ended = serde_json::json!({"duration": 42, "start_time": "2026-12-01T10:00:00Z"});
        assert_eq!(lasted(&ended, "start_time", now), "42s");
    }

    #[test]
    fn segments_and_params() {
        assert_eq!(segment("Daily Standup/1"), "Daily%20Standup%2F1");
        assert_eq!(
            params(&["MaxParticipants=4".into(), "X=a=b".into()]).unwrap(),
            vec![
                ("MaxParticipants".into(), "4".into()),
                ("X".into(), "a=b".into())
            ]
        );
        assert!(params(&["nope".into()]).is_err());
    }
}
