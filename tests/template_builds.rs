//! Templates build reproducibly: every one, built again into a fresh directory, gives
//! the same squashfs as the build the other tests use. Its own test binary: a rebuild
//! is heavy, and must not share the machine with the emulated services' tests.

mod common;
use common::service::template;

/// Every template, built again into a fresh directory, gives the same squashfs as the
/// build the other tests use: builds depend on the cached .debs alone.
#[test]
fn two_builds_of_every_template_are_byte_identical_on_amd64() {
    let again = std::env::temp_dir().join(format!("qing-test-rebuild-{}", std::process::id()));
    let build = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-templates/build.sh");
    for name in ["busybox", "python", "go", "java"] {
        let first = template(name, "amd64");
        let status = std::process::Command::new(&build)
            .args([name, "amd64"])
            .arg(&again)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the second build of {name} failed");
        let image =
            |dir: &std::path::Path| std::fs::read(dir.join(format!("{name}.squashfs"))).unwrap();
        assert!(
            image(first.parent().unwrap()) == image(&again),
            "two builds of {name} differ"
        );
        let manifest = |dir: &std::path::Path| {
            std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()
        };
        assert_eq!(
            manifest(first.parent().unwrap()),
            manifest(&again),
            "two manifests of {name} differ"
        );
    }
    let _ = std::fs::remove_dir_all(&again);
}
