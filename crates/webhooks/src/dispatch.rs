//! Delivery of the outbox: at least once, in order per room, with retries and backoff, without letting
//! a slow or dead receiver hold up other rooms or other receivers.
//!
//! Several nodes may share one database: each dispatcher claims the events it sends (for
//! [`Dispatcher::claim_for`], longer than any one attempt can take), so every event is sent by one
//! node; the claims of a node that died lapse, and another node's dispatcher sends those events.
//!
//! An event stays pending in the store until a receiver answered 2xx (or it was given up), so a crash
//! at any point means it is sent again after the restart. Each room's events go one at a time in the
//! order they were stored. Deliveries to different rooms run concurrently, with a cap per receiving
//! host so one slow host cannot take every slot.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use vroom_domain::clock::Clock;
use vroom_domain::room::CallbackMethod;
use vroom_domain::sid::RoomSid;
use vroom_domain::time::Span;
use vroom_store::{PendingWebhook, Store};

use crate::client::{self, ClientLimits};
use crate::params::{render, signature, with_query};

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Refuse callback targets that are not public addresses (off by default, for local development).
    pub block_private: bool,
    /// Attempts per event before it is given up.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles with every attempt.
    pub first_retry: Span,
    /// Longest wait between attempts.
    pub max_retry: Span,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Deliveries in flight at once.
    pub max_in_flight: usize,
    /// Deliveries in flight to one host at once.
    pub max_per_host: usize,
    /// The proxy callbacks go through (none: straight from vroom; the environment's proxy
    /// variables are ignored).
    pub proxy: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            block_private: false,
            max_attempts: 15,
            first_retry: Span::from_secs(1),
            max_retry: Span::from_mins(10),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_redirects: 3,
            max_in_flight: 64,
            max_per_host: 8,
            proxy: None,
        }
    }
}

impl WebhookConfig {
    /// The wait before attempt `attempts + 1`, after `attempts` failures.
    #[must_use]
    pub fn backoff(&self, attempts: u32) -> Span {
        let factor = 1i64 << attempts.saturating_sub(1).min(30);
        Span::from_millis(
            self.first_retry
                .millis()
                .saturating_mul(factor)
                .min(self.max_retry.millis()),
        )
    }
}

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// Worth trying again (connection failure, timeout, 5xx, 408, 429).
    Retry(String),
    /// Not worth trying again (the receiver refused it, or the target is not allowed).
    GiveUp(String),
}

/// The outbox worker.
pub struct Dispatcher {
    /// Who claims the events this worker sends (the node's id).
    node: String,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: WebhookConfig,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Dispatcher {
    /// A worker of node `node` that signs each event with its account's auth token (read from the
    /// store when it is sent) and wakes when `wake` is notified (new events stored).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        node: String,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: WebhookConfig,
        wake: Arc<Notify>,
    ) -> Result<Self, reqwest::Error> {
        let client = client::build(&ClientLimits {
            block_private: config.block_private,
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_redirects: config.max_redirects,
            proxy: config.proxy.clone(),
        })?;
        Ok(Self {
            node,
            store,
            clock,
            config,
            client,
            wake,
        })
    }

    /// How long a claim on an event lasts: longer than one attempt can take (connecting, the
    /// request, recording the outcome), so no other node sends an event while it is in flight.
    #[must_use]
    pub fn claim_for(&self) -> Span {
        let attempt = self.config.connect_timeout + self.config.request_timeout;
        Span::from_millis(
            i64::try_from(attempt.as_millis())
                .unwrap_or(i64::MAX / 4)
                .saturating_add(10_000),
        )
    }

    /// Delivers until `stop` is cancelled, or, once `drain` is cancelled, until nothing is due and
    /// nothing is in flight (events waiting for a later retry are left). Deliveries still in flight
    /// at `stop` are abandoned; their events stay pending and go out after the next start.
    pub async fn run(self, stop: CancellationToken, drain: CancellationToken) {
        let this = Arc::new(self);
        let mut tasks: JoinSet<(RoomSid, String)> = JoinSet::new();
        let mut busy_rooms: HashSet<RoomSid> = HashSet::new();
        let mut per_host: HashMap<String, usize> = HashMap::new();
        loop {
            let now = this.clock.now();
            let mut due_now = false;
            let until = now + this.claim_for();
            // Claim no more than it can have in flight: what this node claims, others wait for. Its
            // deliveries in flight come back (they are its own claims) and are skipped below.
            let limit = u32::try_from(this.config.max_in_flight).unwrap_or(u32::MAX);
            match this
                .store
                .claim_webhooks(&this.node, now, until, limit)
                .await
            {
                Ok(due) => {
                    due_now = !due.is_empty();
                    for item in due {
                        if tasks.len() >= this.config.max_in_flight {
                            break;
                        }
                        let room = item.event.room_sid;
                        let host = host_of(&item.event.url);
                        if busy_rooms.contains(&room)
                            || per_host.get(&host).copied().unwrap_or(0) >= this.config.max_per_host
                        {
                            continue;
                        }
                        busy_rooms.insert(room);
                        *per_host.entry(host.clone()).or_default() += 1;
                        let me = Arc::clone(&this);
                        tasks.spawn(async move {
                            me.deliver(item).await;
                            (room, host)
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the webhook outbox"),
            }
            if drain.is_cancelled() && !due_now && tasks.is_empty() {
                break;
            }
            let next = this.store.next_webhook_due().await.ok().flatten();
            let deadline = match next {
                Some(t) if t > now => t,
                // Due now but waiting behind a delivery in flight (or the store failed): look again
                // in a second, or as soon as a delivery finishes.
                _ => now + Span::from_secs(1),
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = drain.cancelled(), if !drain.is_cancelled() => {}
                () = this.wake.notified() => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok((room, host)) = done {
                        busy_rooms.remove(&room);
                        if let Some(n) = per_host.get_mut(&host) {
                            *n = n.saturating_sub(1);
                        }
                    }
                }
                () = this.clock.sleep_until(deadline) => {}
            }
        }
        tasks.abort_all();
    }

    async fn deliver(&self, item: PendingWebhook) {
        let outcome = self.attempt(&item).await;
        let now = self.clock.now();
        let attempts = item.attempts + 1;
        let recorded = match &outcome {
            Outcome::Delivered => {
                metrics::counter!("vroom_webhook_attempts_total", "outcome" => "delivered")
                    .increment(1);
                self.store.webhook_delivered(item.id, now).await
            }
            Outcome::Retry(why) if attempts < self.config.max_attempts => {
                metrics::counter!("vroom_webhook_attempts_total", "outcome" => "failed")
                    .increment(1);
                let at = now + self.config.backoff(attempts);
                tracing::info!(room = %item.event.room_sid, event = item.event.kind.as_str(), attempts, why, "status callback failed; will retry");
                self.store.webhook_failed(item.id, why, Some(at), now).await
            }
            Outcome::Retry(why) | Outcome::GiveUp(why) => {
                metrics::counter!("vroom_webhook_attempts_total", "outcome" => "failed")
                    .increment(1);
                metrics::counter!("vroom_webhook_given_up_total").increment(1);
                tracing::warn!(room = %item.event.room_sid, event = item.event.kind.as_str(), attempts, why, "status callback given up");
                self.store.webhook_failed(item.id, why, None, now).await
            }
        };
        if let Err(e) = recorded {
            // The event stays pending and is sent again: at least once.
            tracing::error!(error = %e, "cannot record a status callback attempt");
        }
    }

    async fn attempt(&self, item: &PendingWebhook) -> Outcome {
        let event = &item.event;
        // A URL fragment is never sent and never signed.
        let url = event.url.split('#').next().unwrap_or_default().to_owned();
        let params = render(event);
        // Signed with the auth token of the room's account as it is now, so a receiver validating
        // with that token accepts it.
        let auth_token = match self.store.account(event.account_sid).await {
            Ok(Some(account)) => account.auth_token,
            Ok(None) => return Outcome::GiveUp("the room's account no longer exists".to_owned()),
            Err(e) => return Outcome::Retry(format!("cannot read the room's account: {e}")),
        };
        let (target, body, sig) = match event.method {
            CallbackMethod::Get => {
                let full = with_query(&url, &params);
                let sig = signature(&auth_token, &full, &[]);
                (full, None, sig)
            }
            CallbackMethod::Post => {
                let sig = signature(&auth_token, &url, &params);
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &params {
                    form.append_pair(k, v);
                }
                (url, Some(form.finish()), sig)
            }
        };
        let parsed = match reqwest::Url::parse(&target) {
            Ok(u) => u,
            Err(e) => return Outcome::GiveUp(format!("invalid callback URL: {e}")),
        };
        if let Err(e) = client::check_url(&parsed, self.config.block_private) {
            return Outcome::GiveUp(e.to_string());
        }
        // Through a proxy no resolver of ours sees the target's name: check its addresses here.
        if self.config.proxy.is_some()
            && let Err(e) = client::check_target(parsed.as_str(), self.config.block_private).await
        {
            return Outcome::GiveUp(e.to_string());
        }
        let method = if body.is_some() {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let mut request = self
            .client
            .request(method, parsed)
            .header("X-Twilio-Signature", sig)
            .header(
                "I-Twilio-Idempotency-Token",
                format!("{}-{}", event.room_sid, event.sequence_number),
            );
        if let Some(body) = body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body);
        }
        match request.send().await {
            Ok(resp) if resp.status().is_success() => Outcome::Delivered,
            Ok(resp) => {
                let status = resp.status();
                let retry = status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT;
                let why = format!("the receiver answered {status}");
                if retry {
                    Outcome::Retry(why)
                } else {
                    Outcome::GiveUp(why)
                }
            }
            // A refused target (redirect policy, resolver) is permanent; network failures are not.
            Err(e) if e.is_redirect() || e.is_builder() => Outcome::GiveUp(error_chain(&e)),
            Err(e) => Outcome::Retry(error_chain(&e)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The host (and port) part of a URL, for the per-host limit.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WebhookConfig::default();
        let secs: Vec<i64> = (1..=12).map(|a| c.backoff(a).millis() / 1000).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(host_of("https://example.com/cb"), "example.com:443");
        assert_eq!(host_of("http://127.0.0.1:9000/cb?x=1"), "127.0.0.1:9000");
    }
}
