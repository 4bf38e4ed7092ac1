//! The outbound HTTP client for callbacks: timeouts, a redirect cap, http(s) only, and (when the
//! operator asks) no private, loopback or link-local destinations — checked on every connection,
//! including after redirects, because every host name goes through our resolver and every IP literal
//! through `check_url`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
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
    /// A host name whose every address is non-public, refused by configuration.
    #[error(
        "callback host {host} resolves to {ip}, not a public address (private targets are blocked by configuration)"
    )]
    Resolves {
        /// The host name.
        host: String,
        /// Its first address.
        ip: IpAddr,
    },
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 blocks that are not globally reachable unicast: IANA's IPv4 Special-Purpose Address
/// Registry (entries marked not globally reachable, RFC 6890 and its updates), plus multicast and
/// the former 6to4 relay anycast block. The registry's few globally reachable exceptions inside
/// 192.0.0.0/24 (PCP/TURN anycast) are refused too: no callback receiver lives there.
const V4_SPECIAL: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),       // "this network" (RFC 791)
    v4(10, 0, 0, 0, 8),      // private (RFC 1918)
    v4(100, 64, 0, 0, 10),   // shared address space, carrier-grade NAT (RFC 6598)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local (cloud metadata services live here)
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments (RFC 6890)
    v4(192, 0, 2, 0, 24),    // documentation TEST-NET-1
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast (deprecated, RFC 7526)
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking (RFC 2544)
    v4(198, 51, 100, 0, 24), // documentation TEST-NET-2
    v4(203, 0, 113, 0, 24),  // documentation TEST-NET-3
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, and 255.255.255.255 broadcast
];

/// IPv6 blocks that are not globally reachable unicast, from IANA's IPv6 Special-Purpose Address
/// Registry, for blocks that do not embed an IPv4 address (those are classified by the address
/// they embed, see [`embedded_v4`]). Anything outside 2000::/3, the only block IANA allocates for
/// global unicast, is refused as well.
const V6_SPECIAL: &[Ipv6Net] = &[
    v6([0x0064, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use IPv4/IPv6 translation (RFC 8215)
    v6([0x0100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only (RFC 6666)
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),      // IETF protocol assignments, Teredo included
    v6([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),      // documentation (RFC 9637)
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),      // segment routing SIDs (RFC 9602)
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),       // unique local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),      // link-local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),      // site-local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),       // multicast
];

/// Global unicast IPv6 (RFC 4291, IANA's IPv6 address space registry).
const V6_GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that reach IPv4:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated, RFC 4291; `::` and
/// `::1` are not IPv4), NAT64's well-known prefix `64:ff9b::/96` (RFC 6052) and 6to4
/// `2002:aabb:ccdd::/48` (RFC 3056). A connection to any of them may end at that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    if seg[..6] == [0; 6] && seg[6] != 0 {
        return Some(low);
    }
    if seg[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Whether `ip` is not a public unicast address: any special-purpose block of IANA's registries
/// (private, loopback, link-local, shared, benchmarking, documentation, reserved, multicast, …),
/// and IPv6 forms that carry such an IPv4 address (mapped, compatible, NAT64, 6to4).
#[must_use]
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => V4_SPECIAL.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_non_public(IpAddr::V4(v4));
            }
            !V6_GLOBAL_UNICAST.contains(&v6) || V6_SPECIAL.iter().any(|net| net.contains(&v6))
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

/// Checks a callback URL as a delivery would, before any is made: its scheme, and with
/// `block_private` its host (an IP literal, or every address a name resolves to). A name that
/// does not resolve now passes: it may later, and each delivery checks again.
///
/// # Errors
/// `Blocked` with the reason.
pub async fn check_target(url: &str, block_private: bool) -> Result<(), Blocked> {
    let parsed = reqwest::Url::parse(url).map_err(|_| Blocked::Scheme)?;
    check_url(&parsed, block_private)?;
    if !block_private {
        return Ok(());
    }
    let Some(host) = parsed.domain() else {
        return Ok(());
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let Ok(found) = tokio::net::lookup_host((host, port)).await else {
        return Ok(());
    };
    let found: Vec<IpAddr> = found.map(|a| a.ip()).collect();
    match found.first() {
        Some(first) if found.iter().all(|ip| is_non_public(*ip)) => Err(Blocked::Resolves {
            host: host.to_owned(),
            ip: *first,
        }),
        _ => Ok(()),
    }
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
    /// The proxy every callback goes through, if the operator set one. Proxies named by the
    /// environment (`HTTP_PROXY`, `HTTPS_PROXY`, …) are never used: a callback leaves from vroom
    /// itself unless the operator said otherwise.
    pub proxy: Option<String>,
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
    match &limits.proxy {
        // Through a proxy, the host name is resolved by the proxy, so the resolver below would
        // only see the proxy's own (often private) address: the dispatcher checks the target's
        // addresses before each request instead (`check_target`).
        Some(proxy) => builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?),
        None => {
            builder = builder.no_proxy();
            if block {
                builder = builder.dns_resolver(Arc::new(GuardedResolver));
            }
        }
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One address of every special-purpose block (and of each IPv6 form that embeds IPv4).
    #[test]
    fn every_special_range_is_non_public() {
        for ip in [
            "0.1.2.3",
            "10.255.0.1",
            "100.127.255.254",
            "127.1.2.3",
            "169.254.169.254",
            "172.31.0.1",
            "192.0.0.8",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.200.1",
            "198.18.0.1",
            "198.19.255.254",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:192.168.1.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::169.254.169.254",
            "64:ff9b::198.18.0.1",
            "64:ff9b:1::1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "4000::1",
            "1::1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip} should be blocked");
        }
    }

    #[test]
    fn public_addresses_pass_in_every_form() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "192.0.3.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "64:ff9b::1.1.1.1",
            "2002:808:808::1",
        ] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn targets_are_checked_before_any_delivery() {
        assert!(check_target("http://127.0.0.1:9/cb", false).await.is_ok());
        assert!(matches!(
            check_target("http://[64:ff9b::a00:1]/cb", true).await,
            Err(Blocked::Private(_))
        ));
        assert!(matches!(
            check_target("http://localhost:9/cb", true).await,
            Err(Blocked::Resolves { .. })
        ));
        assert!(
            check_target("http://no-such-host.invalid/cb", true)
                .await
                .is_ok()
        );
        assert_eq!(
            check_target("ftp://example.com/", true).await,
            Err(Blocked::Scheme)
        );
    }

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
