//! What can be checked of `deploy/Dockerfile` without a container engine (none is installed on
//! the machines that test eidos): it parses into known instructions, its stages and inputs exist,
//! and it agrees with the manifests and with `scripts/dist.sh`.

use eidos_fleet::manifests::RUN_AS;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The instructions: `(KEYWORD, arguments)`, comments dropped and continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((keyword.to_owned(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    assert!(current.is_empty(), "a continuation line ends the file");
    out
}

#[test]
fn the_dockerfile_parses_and_its_inputs_exist() {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let steps = instructions(&text);
    const KNOWN: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    let mut stages = Vec::new();
    for (keyword, args) in &steps {
        assert!(
            KNOWN.contains(&keyword.as_str()),
            "unknown instruction {keyword}"
        );
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            assert!(
                words.len() == 3 && words[1].eq_ignore_ascii_case("AS"),
                "every stage is named: FROM {args}"
            );
            // No registry host: images come from the builder's default registry or a mirror.
            assert!(!words[0].split('/').next().unwrap().contains('.'), "{args}");
            stages.push(words[2].to_owned());
        }
        if keyword == "COPY" {
            let words: Vec<&str> = args.split_whitespace().collect();
            match words.iter().find_map(|w| w.strip_prefix("--from=")) {
                Some(stage) => assert!(stages.iter().any(|s| s == stage), "COPY {args}"),
                None => {
                    let sources = &words[..words.len() - 1];
                    for source in sources.iter().filter(|w| !w.starts_with("--")) {
                        assert!(
                            root().join(source).exists(),
                            "COPY source {source} is missing"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(stages, ["build", "runtime"]);
    let run = steps.iter().find(|(k, _)| k == "RUN").unwrap();
    assert!(run.1.starts_with("scripts/dist.sh"), "{}", run.1);
    let dist = root().join("scripts/dist.sh");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dist).unwrap().permissions());
    assert!(mode & 0o111 != 0, "scripts/dist.sh is executable");

    // The user is the one the manifests run as, and non-root.
    let user = steps.iter().rev().find(|(k, _)| k == "USER").unwrap();
    assert_eq!(user.1, format!("{RUN_AS}:{RUN_AS}"));
    // The lock is where dist.sh writes it, and it is enforced.
    let dist_text = std::fs::read_to_string(&dist).unwrap();
    assert!(dist_text.contains("--output \"$root/plugins.lock\""));
    assert!(text.contains("EIDOS_PLUGIN_LOCK=/opt/eidos/plugins.lock"));
    // `command: [eidos]` in the pod spec finds the binary.
    assert!(text.contains("PATH=/opt/eidos/bin:"));

    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");
}
