//! The java template runs what services on boards use, each driven by a small app of
//! tests/apps/java/APP (its main prints `ok APP: ...` and exits 0), with the jars from
//! Debian 12's packages (tests/apps/java/make.sh): an embedded Jetty 9 server asked by
//! java.net.http's client, JDBC with H2 as an embedded database, and XML through DOM,
//! XPath, SAX and a Transformer.
//!
//! - The base template runs each app with its jars on a volume, from its squashfs image
//!   and its directory, and stays within its 40 MiB directory and 20 MiB squashfs.
//! - `--app APP.jar --classpath DIR` makes a template of the modules the app's class
//!   graph reaches, which runs as directory, image and Docker image and rebuilds
//!   byte-identically; `--full` has every Java SE module; bad apps are refused, leaving
//!   nothing.

mod common;
use common::{apps, service, Container};
use std::path::{Path, PathBuf};

const APPS: [&str; 3] = ["jetty", "sql", "xml"];

/// For each app: a module its template must keep, and one the base has that it must not.
const KEPT: [(&str, &str, &str); 3] = [
    ("jetty", "java.net.http", "java.sql"), // the app's client; Jetty's JDBC sessions unused
    ("sql", "java.sql", "java.net.http"),
    ("xml", "java.xml", "java.sql"),
];

/// APP's jar and its lib/ of jars, made once per test into `dir`: the jar's path.
fn make_app(app: &str, dir: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/java/make.sh");
    let mut c = std::process::Command::new("sh");
    c.arg(script).arg(app).arg(dir.join(app));
    let made = common::output(c);
    assert_eq!(made.code, 0, "make.sh {app}: {made:?}");
    PathBuf::from(made.stdout.trim())
}

/// The jars of APP's lib/, sorted.
fn lib_jars(jar: &Path) -> Vec<String> {
    let mut names = common::entries(&jar.parent().unwrap().join("lib"));
    names.retain(|n| n.ends_with(".jar"));
    names
}

/// `java -cp JAR:LIB... MAIN` with the jars where `at` puts the app's directory.
fn java_command(app: &str, jar: &Path, at: &str) -> Vec<String> {
    let mut cp = format!("{at}/{app}.jar");
    for lib in lib_jars(jar) {
        cp.push_str(&format!(":{at}/lib/{lib}"));
    }
    let main = match app {
        "jetty" => "JettyApp",
        "sql" => "SqlApp",
        _ => "XmlApp",
    };
    ["/opt/java/bin/java", "-XX:+UseSerialGC", "-cp", &cp, main]
        .map(String::from)
        .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// build.sh's arguments for APP's template, checked by running it.
fn app_args(app: &str, jar: &Path) -> Vec<String> {
    let mut args = vec!["--app".to_string(), jar.display().to_string()];
    if !lib_jars(jar).is_empty() {
        args.push("--classpath".into());
        args.push(jar.parent().unwrap().join("lib").display().to_string());
    }
    args.push("--check".into());
    args.push(java_command(app, jar, "/app").join(" "));
    args
}

#[test]
fn the_base_template_runs_jetty_jdbc_and_xml_apps_from_debian_jars_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let manifest = service::template("java", "amd64");
    let dir = apps::scratch("java-base");
    apps::each(&APPS, |app| {
        let jar = make_app(app, &dir);
        let volume = format!("{}:/t:ro", jar.parent().unwrap().display());
        for rootfs in [
            manifest.with_extension("squashfs"),
            manifest.with_extension(""),
        ] {
            let c = Container::new(&format!("javaapp-{app}"));
            let command = java_command(app, &jar, "/t");
            let out = c.run_in(
                &rootfs,
                &["--memory", "256m", "--volume", &volume],
                &strs(&command),
            );
            assert_eq!(out.code, 0, "{app} in {}: {out:?}", rootfs.display());
            assert!(
                out.stdout.contains(&format!("ok {app}: ")),
                "{app} in {}: {out:?}",
                rootfs.display()
            );
            println!("{app} in {}: {}", rootfs.display(), out.stdout.trim());
            c.assert_no_leftovers();
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_base_java_template_stays_within_40_mib_and_20_mib_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let (dir, image) = apps::sizes(&service::template("java", "amd64"));
    println!("java: directory {dir} bytes, squashfs {image}");
    assert!(dir <= 40 << 20, "the directory is {dir} bytes");
    assert!(image <= 20 << 20, "the squashfs is {image} bytes");
}

#[test]
fn each_java_app_gets_a_template_of_what_its_class_graph_reaches_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let base = service::template("java", "amd64");
    let engine = (!common::docker::skip_without_docker()).then(common::docker::Engine::start);
    let dir = apps::scratch("java-templates");
    let out = dir.join("out");
    apps::each(&APPS, |app| {
        let jar = make_app(app, &dir);
        let args = app_args(app, &jar);
        let manifest = apps::build_app("java", "amd64", &out, &strs(&args));
        let kept = apps::kept(&manifest);
        let (_, must, must_not) = KEPT.iter().find(|(a, _, _)| *a == app).unwrap();
        assert!(
            kept.iter().any(|m| m == must),
            "{app}: {must} not in {kept:?}"
        );
        assert!(!kept.iter().any(|m| m == must_not), "{app}: {kept:?}");
        // java.desktop is in every jar-level answer of jdeps for Jetty and H2 (a leak
        // preventer, a tray icon): nothing the apps reach uses it.
        assert!(!kept.iter().any(|m| m == "java.desktop"), "{app}: {kept:?}");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(text.contains(&format!("/app/{app}.jar")), "{text}");

        let (size, image) = apps::sizes(&manifest);
        let (base_size, base_image) = apps::sizes(&base);
        println!(
            "{app}: directory {size} bytes ({:.0}% of the base's {base_size}), squashfs {image} ({:.0}% of {base_image}); kept {kept:?}",
            100.0 * size as f64 / base_size as f64,
            100.0 * image as f64 / base_image as f64
        );
        // H2's engine reaches java.management, java.scripting, java.compiler and
        // java.instrument, which the base leaves out: its template is the base's size
        // plus H2 (2.5 MB), not smaller (README, Templates).
        if app != "sql" {
            apps::assert_smaller(&manifest, &base);
        }
        apps::assert_runs_from_image_and_directory(
            &manifest,
            &["--memory", "256m"],
            &format!("ok {app}: "),
        );
        if let Some(engine) = &engine {
            apps::assert_runs_under_docker(engine, &manifest, &format!("ok {app}: "));
        }
        apps::assert_rebuilds_identically("java", "amd64", &manifest, &strs(&args));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_full_java_template_has_every_java_se_module_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let out = apps::scratch("java-full");
    let built = apps::build("java", "amd64", &out, &["--full"]);
    assert_eq!(built.code, 0, "{built:?}");
    let manifest = out.join("java-full.json");
    let (dir, image) = apps::sizes(&manifest);
    println!("java-full: directory {dir} bytes, squashfs {image}");
    let c = Container::new("java-full");
    let listed = c.run_in(
        &manifest.with_extension("squashfs"),
        &["--memory", "256m"],
        &["/opt/java/bin/java", "--list-modules"],
    );
    assert_eq!(listed.code, 0, "{listed:?}");
    for module in [
        "java.se",
        "java.desktop",
        "java.management",
        "java.rmi",
        "java.scripting",
        "java.sql.rowset",
        "java.xml.crypto",
        "java.security.jgss",
        "jdk.httpserver",
    ] {
        assert!(
            listed
                .stdout
                .lines()
                .any(|l| l.starts_with(&format!("{module}@"))),
            "{module} not in {listed:?}"
        );
    }
    c.assert_no_leftovers();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_java_apps_are_refused_and_leave_nothing_on_amd64() {
    let dir = apps::scratch("java-bad");
    let not_a_jar = dir.join("notes.jar");
    std::fs::write(&not_a_jar, "not a zip\n").unwrap();
    let no_main = dir.join("nomain.jar");
    let made = common::output({
        let mut c = std::process::Command::new("python3");
        c.args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')",
        ])
        .arg(&no_main);
        c
    });
    assert_eq!(made.code, 0, "{made:?}");
    let empty = dir.join("empty-lib");
    std::fs::create_dir_all(&empty).unwrap();
    let xml = make_app("xml", &dir);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--app".into(), dir.display().to_string()],
            "give the app's jar (APP.jar)",
        ),
        (
            vec!["--app".into(), not_a_jar.display().to_string()],
            "not a jar with a manifest",
        ),
        (
            vec!["--app".into(), no_main.display().to_string()],
            "names no Main-Class: give --command",
        ),
        (
            vec![
                "--app".into(),
                xml.display().to_string(),
                "--classpath".into(),
                empty.display().to_string(),
            ],
            "no .jar files in it",
        ),
        (
            vec![
                "--app".into(),
                xml.display().to_string(),
                "--keep".into(),
                "java.no.such".into(),
            ],
            "--keep java.no.such: no such module in the JDK",
        ),
    ];
    for (args, message) in cases {
        let out = dir.join("out");
        let got = apps::build("java", "amd64", &out, &strs(&args));
        assert_ne!(got.code, 0, "{args:?}: {got:?}");
        assert!(
            got.stderr.contains(message),
            "{args:?}: want {message:?} in {got:?}"
        );
        assert!(
            common::entries(&out).is_empty(),
            "{args:?} left {:?}",
            common::entries(&out)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_foreign_java_app_template_is_checked_under_qemu_user_on_amd64() {
    if common::skip_without("squashfs")
        || common::skip_unless(
            common::qemu_user("aarch64"),
            "qemu-user for aarch64 (cross/qemu-user.sh aarch64; tests/run.sh does)",
        )
    {
        return;
    }
    let dir = apps::scratch("java-arm64");
    let jar = make_app("xml", &dir);
    let out = dir.join("out");
    let built = apps::build("java", "arm64", &out, &strs(&app_args("xml", &jar)));
    assert_eq!(built.code, 0, "{built:?}");
    assert!(
        built.stderr.contains("ok xml: "),
        "the check ran: {built:?}"
    );
    assert!(std::fs::read_to_string(out.join("xml.json"))
        .unwrap()
        .contains("\"arch\": \"arm64\""));
    let _ = std::fs::remove_dir_all(&dir);
}
