//! A few seconds of `vroom-bench` against the debug `vroom` the same `cargo test` built: the bench
//! and its clients keep working, every stream reaches every receiver (one and three simulcast
//! layers). It checks delivery, never timings: speed is measured in BENCHMARKS.md with a release build.

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

#[test]
fn the_bench_delivers_every_stream_with_one_and_three_layers() {
    for extra in [&[][..], &["--simulcast"][..]] {
        let summary = run(extra);
        // 2 publishers × (1 other publisher + 1 subscriber) × audio and video.
        assert_eq!(summary["streams"], 8, "{summary}");
        let delivered = summary["delivered"].as_f64().unwrap();
        assert!(
            delivered >= 0.95,
            "{extra:?}: delivered {delivered}: {summary}"
        );
    }
}
