//! The deployment guide shows the files it describes as they are.

use std::path::Path;

#[test]
fn the_deployment_guide_shows_the_dockerfile_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/deploy.md")).unwrap();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let body: String = dockerfile
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        guide.contains(&format!("```dockerfile\n{body}```")),
        "docs/deploy.md's Dockerfile differs from ./Dockerfile"
    );
}
