//! The outbound HTTP client for callbacks: timeouts, a redirect cap, http(s) only, and (when the
//! operator asks) no private, loopback or link-local destinations — checked on every connection,
//! including after redirects, because every host name goes through our resolver and every IP literal
//! through `check_url`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// Not http or https, or not a URL.
    #[error("only http and https callback URLs are allowed")]
    Scheme,
    /// A private, loopback, link-local or otherwise non-global address, refused by configuration.
    #[error(
        "callback target {0} is not a public address (private targets are blocked by configuration)"
    )]
    Private(IpAddr),
}

/// Whether `ip` is not a public unicast address: loopback, private, link-local, shared (CGNAT),
/// unspecified, multicast, broadcast, documentation or unique-local.
#[must_use]
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        }
    }
}

/// Checks a URL's scheme, and its host when it is an IP literal.
///
/// # Errors
/// `Blocked` with the reason.
pub fn check_url(url: &reqwest::Url, block_private: bool) -> Result<(), Blocked> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Blocked::Scheme);
    }
    if block_private {
        let ip = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(ip) = ip.filter(|ip| is_non_public(*ip)) {
            return Err(Blocked::Private(ip));
        }
    }
    Ok(())
}

/// Resolves host names with the system resolver and drops non-public addresses.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !is_non_public(a.ip()))
                .collect();
            if public.is_empty() {
                let first = found
                    .first()
                    .map_or_else(|| "no address".to_owned(), |a| a.ip().to_string());
                return Err(format!("callback host {host} resolves to a non-public address ({first}), blocked by configuration").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Limits of the outbound client.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Refuse non-public destinations.
    pub block_private: bool,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
}

/// Builds the client.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn build(limits: &ClientLimits) -> Result<reqwest::Client, reqwest::Error> {
    let block = limits.block_private;
    let max = limits.max_redirects;
    let policy = Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(format!("more than {max} redirects"));
        }
        match check_url(attempt.url(), block) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e.to_string()),
        }
    });
    let mut builder = reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.request_timeout)
        .redirect(policy)
        .user_agent(concat!(
            "TwilioProxy/1.1 (vroom/",
            env!("CARGO_PKG_VERSION"),
            ")"
        ));
    if block {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip} should be blocked");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn checks_urls() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            check_url(&u("ftp://example.com/x"), false),
            Err(Blocked::Scheme)
        );
        assert!(
            check_url(&u("http://127.0.0.1:9/cb"), false).is_ok(),
            "allowed unless the operator blocks it"
        );
        assert!(matches!(
            check_url(&u("http://127.0.0.1:9/cb"), true),
            Err(Blocked::Private(_))
        ));
        assert!(matches!(
            check_url(&u("http://[::1]:9/cb"), true),
            Err(Blocked::Private(_))
        ));
        assert!(check_url(&u("https://example.com/cb"), true).is_ok());
    }

    #[tokio::test]
    async fn the_guarded_resolver_refuses_localhost() {
        let addrs = GuardedResolver.resolve("localhost".parse().unwrap()).await;
        assert!(addrs.is_err());
    }
}
