//! What `/proc` says about the server process, when it runs on this machine and its pid is given.

use std::time::Duration;

use anyhow::Context;

/// Resident memory, KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// Resident anonymous memory, KiB (`RssAnon`): the heap and stacks, without the pages of the
/// binary and libraries, whose count depends on how the file sits in the page cache (a binary
/// copied a moment ago maps about 2 MB more at start than one long cached).
pub(crate) fn rss_anon_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "RssAnon:")
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("no process {pid}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field}"))?;
    line.split_whitespace()
        .nth(1)
        .with_context(|| format!("malformed {field}"))?
        .parse()
        .with_context(|| format!("malformed {field}"))
}

/// CPU time (user + system) so far. /proc counts in clock ticks, 100 per second on Linux.
pub(crate) fn cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid}"))?;
    // The fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
