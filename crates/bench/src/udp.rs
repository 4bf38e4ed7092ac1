//! Where UDP datagrams were lost during a measurement: the kernel's drop counter of every UDP socket
//! (`/proc/net/udp` and `udp6`, by socket inode) summed per process, the server's and the bench's
//! own (its clients), and the host's receive and send buffer errors (`/proc/net/snmp`). A server
//! that falls behind loses datagrams in its socket's receive buffer; clients that fall behind lose
//! them in theirs, and the delivered figure alone cannot tell the two apart.

use std::collections::{HashMap, HashSet};

/// The receive buffer the bench's client sockets ask for (the kernel caps it at
/// `net.core.rmem_max`): a client receiving hundreds of packets per second from every publisher
/// must not lose them while the bench process's threads are busy with other clients.
pub const CLIENT_RECV_BUFFER: usize = 2 << 20;

/// Socket inode → datagrams dropped, from the text of `/proc/net/udp` or `/proc/net/udp6`.
#[must_use]
pub fn parse_proc_net_udp(text: &str) -> HashMap<u64, u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode = fields.get(9)?.parse().ok()?;
            let drops = fields.get(12)?.parse().ok()?;
            Some((inode, drops))
        })
        .collect()
}

/// The inodes of the sockets process `pid` has open (its `/proc/<pid>/fd` links `socket:[N]`).
#[must_use]
pub fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(|e| {
        let link = std::fs::read_link(e.ok()?.path()).ok()?;
        link.to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
    .collect()
}

/// `RcvbufErrors` and `SndbufErrors` of the `Udp:` lines of `/proc/net/snmp`'s text.
#[must_use]
pub fn parse_snmp_udp(text: &str) -> Option<(u64, u64)> {
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some((get("RcvbufErrors")?, get("SndbufErrors")?))
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
#[must_use]
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The drop counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Each socket of the server's: inode → drops.
    server: HashMap<u64, u64>,
    /// Each socket of this process's (the clients').
    clients: HashMap<u64, u64>,
    /// The host's UDP receive and send buffer errors.
    host: (u64, u64),
}

/// What was dropped between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// Datagrams dropped at the server's sockets.
    pub server: u64,
    /// Datagrams dropped at the clients' sockets.
    pub clients: u64,
    /// The host's UDP receive buffer errors.
    pub host_rcvbuf: u64,
    /// The host's UDP send buffer errors.
    pub host_sndbuf: u64,
}

impl Snapshot {
    /// The counters now, of the sockets of `server` (a pid) and of this process.
    #[must_use]
    pub fn take(server: u32) -> Self {
        let mut all = HashMap::new();
        for file in ["/proc/net/udp", "/proc/net/udp6"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                all.extend(parse_proc_net_udp(&text));
            }
        }
        let of = |pid: u32| -> HashMap<u64, u64> {
            socket_inodes(pid)
                .into_iter()
                .filter_map(|i| all.get(&i).map(|d| (i, *d)))
                .collect()
        };
        let host = std::fs::read_to_string("/proc/net/snmp")
            .ok()
            .and_then(|t| parse_snmp_udp(&t))
            .unwrap_or_default();
        Self {
            server: of(server),
            clients: of(std::process::id()),
            host,
        }
    }

    /// What was dropped from `self` to `later`: per socket still open then (a socket opened since
    /// counts whole).
    #[must_use]
    pub fn drops_until(&self, later: &Self) -> Drops {
        let delta = |before: &HashMap<u64, u64>, after: &HashMap<u64, u64>| -> u64 {
            after
                .iter()
                .map(|(i, d)| d.saturating_sub(before.get(i).copied().unwrap_or(0)))
                .sum()
        };
        Drops {
            server: delta(&self.server, &later.server),
            clients: delta(&self.clients, &later.clients),
            host_rcvbuf: later.host.0.saturating_sub(self.host.0),
            host_sndbuf: later.host.1.saturating_sub(self.host.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  283: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 17171 2 0000000000000000 0
 1021: 0100007F:9C41 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 88412 2 ffff8f0c4a3b2000 1234
";

    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   42: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99001 2 0000000000000000 7
";

    #[test]
    fn drops_are_read_per_socket_inode() {
        let udp = parse_proc_net_udp(UDP);
        assert_eq!(udp.len(), 2);
        assert_eq!(udp[&17171], 0);
        assert_eq!(udp[&88412], 1234);
        assert_eq!(parse_proc_net_udp(UDP6), HashMap::from([(99001, 7)]));
        assert!(parse_proc_net_udp("header only\n").is_empty());
        assert!(parse_proc_net_udp("h\n 1: short line\n").is_empty());
    }

    #[test]
    fn buffer_errors_are_read_from_the_udp_lines_of_snmp() {
        let snmp = "Tcp: RtoAlgorithm RtoMin\nTcp: 1 200\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\nUdp: 9000 1 40 8000 38 2 0 0 0\nUdpLite: InDatagrams NoPorts\nUdpLite: 0 0\n";
        assert_eq!(parse_snmp_udp(snmp), Some((38, 2)));
        assert_eq!(parse_snmp_udp("Tcp: A\nTcp: 1\n"), None);
    }

    #[test]
    fn drops_count_from_the_first_snapshot_and_new_sockets_whole() {
        let before = Snapshot {
            server: HashMap::from([(1, 10), (2, 0)]),
            clients: HashMap::from([(5, 3)]),
            host: (100, 1),
        };
        let after = Snapshot {
            server: HashMap::from([(1, 15), (2, 1), (3, 4)]),
            clients: HashMap::from([(5, 3)]),
            host: (110, 1),
        };
        assert_eq!(
            before.drops_until(&after),
            Drops {
                server: 10,
                clients: 0,
                host_rcvbuf: 10,
                host_sndbuf: 0
            }
        );
    }

    #[test]
    fn this_process_sockets_are_found() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let snapshot = Snapshot::take(std::process::id());
        assert!(!snapshot.clients.is_empty(), "{snapshot:?}");
        drop(socket);
    }
}
