//! Templates as Docker images and back, with a real Docker engine: Debian's docker.io,
//! started privately by tests/docker/engine.sh (nothing on the host's network or
//! default paths) and stopped by its own PID when the test ends, however it ends.
//!
//! - Each template becomes an image (rootfs-templates/to-docker.sh) with the same
//!   files, and its sample service answers under `docker run`.
//! - Each image converts back (rootfs-templates/from-docker.sh) into a template whose
//!   squashfs is byte-identical to the original, and which qing runs.
//! - An image built FROM scratch with a Dockerfile converts into a template that qing
//!   runs with the image's entrypoint, command, environment and working directory.

mod common;
use common::docker::Engine;
use common::service::{assert_answered, probe_file, service_command, template};
use common::{output, Container};
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files of a tree as "TYPE MODE UID:GID PATH -> TARGET" lines, sorted, without
/// the paths every Docker container gets at run time.
fn listing(tree: &Path) -> String {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%y %m %U:%G %p -> %l\n"])
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(out.status.success());
    let docker_adds = [
        "./.dockerenv",
        "./dev/console",
        "./dev/pts",
        "./dev/shm",
        "./etc/hostname",
        "./etc/hosts",
        "./etc/mtab",
        "./etc/resolv.conf",
    ];
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !docker_adds.iter().any(|p| l.split(' ').nth(3) == Some(p)))
        .collect();
    lines.sort_unstable();
    lines.join("\n")
}

#[test]
fn templates_become_docker_images_and_images_become_templates_on_amd64() {
    if common::skip_without_any(&["squashfs"]) || common::docker::skip_without_docker() {
        return;
    }
    let engine = Engine::start();
    let work = std::env::temp_dir().join(format!("qing-test-docker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let busybox = template("busybox", "amd64").with_file_name("busybox/bin/busybox");

    for (name, runtime) in [
        ("busybox", "busybox"),
        ("python", "python"),
        ("go", "go"),
        ("java", "java"),
    ] {
        let manifest = template(name, "amd64");
        let built = manifest.parent().unwrap();
        let tag = format!("qing/{name}:amd64");
        let out = engine.script(
            "rootfs-templates/to-docker.sh",
            &[&manifest.display().to_string(), &tag],
        );
        assert_eq!(out.code, 0, "{name} to docker: {out:?}");

        // The same files: an exported container against the template directory.
        let cid = engine.docker(&["create", "--network", "none", &tag]);
        assert_eq!(cid.code, 0, "{cid:?}");
        let cid = cid.stdout.trim().to_string();
        let exported = work.join(format!("{name}-export"));
        std::fs::create_dir_all(&exported).unwrap();
        let out = output({
            let mut c = engine.command(Path::new("sh"));
            c.arg("-c")
                .arg("docker export \"$1\" | tar -x -C \"$2\" --numeric-owner")
                .args(["sh", &cid, &exported.display().to_string()]);
            c
        });
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(engine.docker(&["rm", &cid]).code, 0);
        assert_eq!(
            listing(&exported),
            listing(&built.join(name)),
            "{name}: the image's files differ from the template's"
        );

        // Back into a template: the same squashfs, byte for byte.
        let created = common::service::object(&std::fs::read_to_string(&manifest).unwrap());
        let epoch = common::service::field(&created, "created");
        let back = work.join("back");
        let out = {
            let mut c = engine.command(&repo().join("rootfs-templates/from-docker.sh"));
            c.args([&tag, &format!("{name}-back"), &back.display().to_string()])
                .env("SOURCE_DATE_EPOCH", &epoch);
            output(c)
        };
        assert_eq!(out.code, 0, "{name} from docker: {out:?}");
        let image = back.join(format!("{name}-back.squashfs"));
        assert_eq!(
            sha256_of(&image),
            sha256_of(&built.join(format!("{name}.squashfs"))),
            "{name}: the round trip through Docker changed the image"
        );

        // The sample service answers under docker run, and from the converted template
        // under qing, with the converted manifest's defaults.
        let probe = probe_file(&format!("docker-{name}"));
        let command = service_command(&manifest);
        let mut args = vec![
            "run".to_string(),
            "--rm".into(),
            "--network".into(),
            "none".into(),
            "--memory".into(),
            "256m".into(),
            "-v".into(),
            format!("{}:/.qt/busybox:ro", busybox.display()),
            "-v".into(),
            format!("{}:/.qt/probe.sh:ro", probe.display()),
            "--entrypoint".into(),
            "/.qt/busybox".into(),
            tag.clone(),
            "sh".into(),
            "/.qt/probe.sh".into(),
        ];
        args.extend(command.iter().cloned());
        let out = engine.docker(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.code, 0, "{name} under docker run: {out:?}");
        assert_answered(&out.stdout, runtime, &format!("{name} under docker run"));

        let c = Container::new(&format!("docker-back-{name}"));
        let back_command = service_command(&back.join(format!("{name}-back.json")));
        let mut argv = vec!["/.qt/busybox", "sh", "/.qt/probe.sh"];
        argv.extend(back_command.iter().map(String::as_str));
        let out = c.run_in(
            &image,
            &[
                "--memory",
                "128m",
                "--volume",
                &format!("{}:/.qt/busybox:ro", busybox.display()),
                "--volume",
                &format!("{}:/.qt/probe.sh:ro", probe.display()),
            ],
            &argv,
        );
        assert_eq!(out.code, 0, "{name} converted back, under qing: {out:?}");
        assert_answered(
            &out.stdout,
            runtime,
            &format!("{name} converted back, under qing"),
        );
        c.assert_no_leftovers();
        let _ = std::fs::remove_file(&probe);
    }

    // A Dockerfile image, FROM scratch, with an entrypoint, a command, an environment
    // and a working directory: qing runs the converted template with all of them.
    let context = work.join("dockerfile");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy(&busybox, context.join("busybox")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         ENV GREETING=\"hello world\" PATH=/bin\n\
         WORKDIR /srv/app\n\
         ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"echo $GREETING from $(/bin/busybox pwd): $0 $1\"]\n\
         CMD [\"first\", \"second arg\"]\n",
    )
    .unwrap();
    let out = engine.docker(&[
        "build",
        "-q",
        "-t",
        "qing/scratch-test",
        &context.display().to_string(),
    ]);
    assert_eq!(out.code, 0, "docker build: {out:?}");
    let out = engine.docker(&["run", "--rm", "--network", "none", "qing/scratch-test"]);
    assert_eq!(out.code, 0, "{out:?}");
    let expected = "hello world from /srv/app: first second arg\n";
    assert_eq!(out.stdout, expected, "docker run: {out:?}");
    let back = work.join("back");
    let out = engine.script(
        "rootfs-templates/from-docker.sh",
        &["qing/scratch-test", "scratch", &back.display().to_string()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let c = Container::new("docker-scratch");
    for rootfs in [back.join("scratch.squashfs"), back.join("scratch")] {
        for opts in [&[][..], &["--read-only"][..]] {
            let out = c.run_in(&rootfs, opts, &[]);
            assert_eq!(
                out.stdout,
                expected,
                "qing run {opts:?} {}: {out:?}",
                rootfs.display()
            );
            c.assert_no_leftovers();
        }
    }
    drop(engine);
    let _ = std::fs::remove_dir_all(&work);
}
