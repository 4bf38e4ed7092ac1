//! A few seconds of `vroom-bench` against the debug `vroom` the same `cargo test` built (one and three
//! simulcast layers) and against Janus (installed by `scripts/setup-test-deps`): the bench and its
//! clients keep working with both servers, every stream reaches every receiver. It checks delivery,
//! never timings: speed is measured in BENCHMARKS.md with a release build.

use std::path::PathBuf;
use std::process::Command;

/// The `vroom` binary next to this package's own (both in the workspace's target folder).
fn vroom() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_vroom-bench"));
    let vroom = bench.with_file_name(format!("vroom{}", std::env::consts::EXE_SUFFIX));
    assert!(
        vroom.is_file(),
        "{} is missing: run the workspace's tests (`cargo test --workspace` builds it)",
        vroom.display()
    );
    vroom
}

fn run(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vroom-bench"))
        .arg("--vroom")
        .arg(vroom())
        .args(["--publishers", "2", "--subscribers", "1", "--seconds", "2"])
        .args(extra)
        .output()
        .expect("vroom-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vroom-bench failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("the last line is JSON")
}

/// Two publishers and one subscriber receive everything: 2 × (1 other publisher + 1 subscriber) ×
/// audio and video streams.
fn assert_delivered(extra: &[&str]) {
    let summary = run(extra);
    assert_eq!(summary["streams"], 8, "{summary}");
    let delivered = summary["delivered"].as_f64().unwrap();
    assert!(
        delivered >= 0.95,
        "{extra:?}: delivered {delivered}: {summary}"
    );
    // Where datagrams were lost is said (counts, never asserted: a loaded machine drops some).
    for field in [
        "server_udp_drops",
        "clients_udp_drops",
        "host_rcvbuf_errors",
        "host_sndbuf_errors",
    ] {
        assert!(summary[field].is_u64(), "{field}: {summary}");
    }
    assert_eq!(summary["load_average"].as_array().map(Vec::len), Some(3));
}

#[test]
fn the_bench_delivers_every_stream_with_one_and_three_layers() {
    for extra in [&[][..], &["--simulcast"][..]] {
        assert_delivered(extra);
    }
}

#[test]
fn the_janus_driver_delivers_every_stream() {
    assert!(
        std::path::Path::new("/usr/bin/janus").is_file(),
        "/usr/bin/janus is missing: scripts/setup-test-deps installs it (Debian's janus)"
    );
    assert_delivered(&["--server", "janus"]);
}
