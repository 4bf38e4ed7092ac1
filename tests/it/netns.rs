//! A client on a network that drops UDP (hospitals, schools, corporate networks): twilio-video.js in
//! Chromium inside a network namespace of this test's own, joined to the test's namespace by a veth
//! pair and nothing else, whose UDP to vroom is dropped by nftables. It connects over TCP — one page
//! by ICE over TCP to the media server, one through the embedded TURN server over TCP — and each
//! receives the other's audio and video (tests/browser/netns.js has the page-side checks).
//!
//! Before the browser runs, the test proves the network is what it says: a UDP datagram from the
//! namespace reaches vroom's side before the drop rule and is counted as dropped after it, while a
//! TCP connection still gets through. After the run, the rule's counter shows the browser tried UDP
//! and lost it.
//!
//! Needs root (CAP_NET_ADMIN), `ip` (iproute2) and `nft` (nftables; scripts/setup.d/50-netns.sh
//! installs both): without them the test prints `SKIPPED …` and passes, except under `CI=true`,
//! where it fails. The namespace and its veth pair are removed when the test ends, pass or fail.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::browser::{ONE_BROWSER_AT_A_TIME, browser_dir, sdk_file};
use crate::common::{Options, TestServer};
use crate::external::{require_installed, run_to_end};

/// How long netns.js may take (Chromium's start, two joins, media both ways).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// A network namespace with one veth pair to the test's namespace, removed when dropped.
struct Namespace {
    name: String,
    /// The veth end in the test's namespace (its peer is inside the namespace).
    host_link: String,
    /// vroom's address, on `host_link`.
    host_ip: Ipv4Addr,
    /// The client's address, inside the namespace.
    client_ip: Ipv4Addr,
}

/// Runs `program args`, returning its stdout, or what went wrong.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `program args` with `input` on its stdin.
fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .map_err(|e| format!("{program}: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Namespace {
    /// `vroom-<pid>`, with a /30 of 10.77.0.0/16 drawn from the pid, so two test processes on one
    /// machine do not collide.
    fn create() -> Result<Self, String> {
        let pid = std::process::id();
        let block = pid % (1 << 14);
        let [_, _, hi, lo] = (block * 4).to_be_bytes();
        let ns = Self {
            name: format!("vroom-{pid}"),
            host_link: format!("vrm{pid}"),
            host_ip: Ipv4Addr::new(10, 77, hi, lo + 1),
            client_ip: Ipv4Addr::new(10, 77, hi, lo + 2),
        };
        let peer = format!("vrn{pid}");
        run("ip", &["netns", "add", &ns.name])?;
        // From here on, Drop cleans up whatever was made.
        let host = format!("{}/30", ns.host_ip);
        let client = format!("{}/30", ns.client_ip);
        run(
            "ip",
            &[
                "link",
                "add",
                &ns.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ],
        )?;
        run("ip", &["link", "set", &peer, "netns", &ns.name])?;
        run("ip", &["addr", "add", &host, "dev", &ns.host_link])?;
        run("ip", &["link", "set", &ns.host_link, "up"])?;
        run(
            "ip",
            &["-n", &ns.name, "addr", "add", &client, "dev", &peer],
        )?;
        run("ip", &["-n", &ns.name, "link", "set", &peer, "up"])?;
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Drops UDP between the namespace and vroom's address, both ways, counting what it drops.
    fn drop_udp(&self) -> Result<(), String> {
        let rules = format!(
            "table inet vroom {{
               chain out {{
                 type filter hook output priority 0; policy accept;
                 ip daddr {vroom} meta l4proto udp counter drop
               }}
               chain in {{
                 type filter hook input priority 0; policy accept;
                 ip saddr {vroom} meta l4proto udp counter drop
               }}
             }}",
            vroom = self.host_ip
        );
        run_with_input(
            "ip",
            &["netns", "exec", &self.name, "nft", "-f", "-"],
            &rules,
        )
    }

    /// Packets the outbound drop rule has dropped so far.
    fn udp_dropped(&self) -> u64 {
        let listing = run(
            "ip",
            &[
                "netns", "exec", &self.name, "nft", "-j", "list", "chain", "inet", "vroom", "out",
            ],
        )
        .expect("nft lists the namespace's rules");
        let json: Value = serde_json::from_str(&listing).expect("nft -j prints JSON");
        json["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["rule"]["expr"].as_array())
            .flatten()
            .filter_map(|expr| expr["counter"]["packets"].as_u64())
            .sum()
    }

    /// Runs a shell command inside the namespace; whether it succeeded.
    fn shell(&self, script: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "bash", "-c", script])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Sends three UDP datagrams from the namespace to `to`; whether every send succeeded (a send
    /// the output hook drops fails with EPERM).
    fn send_udp(&self, to: SocketAddr) -> bool {
        self.shell(&format!(
            "ok=0; for i in 1 2 3; do echo probe > /dev/udp/{}/{} || ok=1; done; exit $ok",
            to.ip(),
            to.port()
        ))
    }

    fn exec(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace destroys the veth end inside it, and with it the pair; the link is
        // deleted too in case the namespace went first some other way.
        let _ = run("ip", &["netns", "del", &self.name]);
        let _ = run("ip", &["link", "del", &self.host_link]);
    }
}

/// Why this machine cannot make the namespace, if it cannot.
fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return Some("not running as root (network namespaces need CAP_NET_ADMIN)".into());
    }
    for (program, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        if run("sh", &["-c", &format!("command -v {program}")]).is_err() {
            return Some(format!(
                "`{program}` is missing (Debian's {package}; scripts/setup-test-deps installs it)"
            ));
        }
    }
    None
}

/// The UDP probe: what a socket on vroom's side received within `wait`.
fn received(socket: &UdpSocket, wait: Duration) -> usize {
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    let mut n = 0;
    while socket.recv_from(&mut buf).is_ok() {
        n += 1;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_whose_udp_is_dropped_connects_over_tcp_and_receives_media() {
    if let Some(why) = unavailable() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the network-namespace test cannot run under CI=true: {why}"
        );
        eprintln!("SKIPPED the network-namespace test (UDP dropped → TCP): {why}");
        return;
    }
    require_installed(
        "the network-namespace test runs twilio-video.js in Chromium",
        &[
            std::path::PathBuf::from("/usr/bin/chromium"),
            sdk_file(),
            browser_dir().join("node_modules/playwright-core/package.json"),
        ],
    );
    let ns = Namespace::create().unwrap_or_else(|e| {
        panic!("cannot make the network namespace (root and iproute2 are there): {e}")
    });

    // The network: UDP from the namespace reaches this side…
    let udp = UdpSocket::bind((ns.host_ip, 0)).unwrap();
    assert!(
        ns.send_udp(udp.local_addr().unwrap()),
        "bash in the namespace sends UDP to vroom's side"
    );
    assert!(
        received(&udp, Duration::from_secs(5)) > 0,
        "UDP from the namespace reaches {} before the drop rule",
        ns.host_ip
    );
    // …until the drop rule, which counts it dropped…
    ns.drop_udp().expect("nft installs the drop rule");
    assert!(
        !ns.send_udp(udp.local_addr().unwrap()),
        "sending UDP to vroom's side fails in the namespace once it is dropped"
    );
    let probes = ns.udp_dropped();
    assert_eq!(probes, 3, "the three UDP probes are counted as dropped");
    assert_eq!(
        received(&udp, Duration::from_millis(500)),
        0,
        "no UDP from the namespace arrives once it is dropped"
    );
    // …while TCP gets through.
    let tcp = TcpListener::bind((ns.host_ip, 0)).unwrap();
    let at = tcp.local_addr().unwrap();
    assert!(
        ns.shell(&format!(
            "exec 3<>/dev/tcp/{}/{} && echo probe >&3",
            at.ip(),
            at.port()
        )),
        "TCP from the namespace connects to {at}"
    );
    let mut probe = String::new();
    tcp.accept().unwrap().0.read_to_string(&mut probe).unwrap();
    assert_eq!(probe, "probe\n");

    // vroom on the veth address: HTTP, signaling, media (UDP and TCP) and TURN (UDP and TCP).
    let s = TestServer::with(Options {
        bind_ip: Some(IpAddr::V4(ns.host_ip)),
        ..Options::default()
    })
    .await;
    let _one_browser = ONE_BROWSER_AT_A_TIME.lock().await;
    let stdout = run_to_end(
        ns.exec("node")
            .arg("netns.js")
            .current_dir(browser_dir())
            .env("VROOM_CHROMIUM", "/usr/bin/chromium")
            .env("VROOM_BASE_URL", &s.base)
            .env("VROOM_ACCOUNT_SID", s.creds.account_sid.to_string())
            .env("VROOM_API_KEY_SID", s.creds.api_key_sid.to_string())
            .env("VROOM_API_KEY_SECRET", &s.creds.api_key_secret),
        "twilio-video.js in the namespace (ip netns exec … node netns.js)",
        RUN_TIMEOUT,
    )
    .await;
    println!("{stdout}");
    assert!(stdout.contains("udp_dropped passed"), "{stdout}");
    let tried = ns.udp_dropped() - probes;
    println!("UDP packets from the browser dropped on the way to vroom: {tried}");
    assert!(
        tried > 0,
        "the browser tried UDP (ICE checks to the media server's UDP candidate, TURN over UDP) and lost it"
    );
    s.stop().await;
}
