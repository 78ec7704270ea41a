//! The precedence table: every setting, every pair of layers; and errors naming their source.

use super::*;

const FILE: &str = "/etc/eidos/config.toml";

/// One row: how each layer sets the setting, and how to read it back.
struct Row {
    name: &'static str,
    /// Sets the flag (`None`: the setting has no flag).
    flag: Option<fn(&mut Flags)>,
    /// The variable and its value (`None`: no variable).
    env: Option<(&'static str, &'static str)>,
    /// The config file text (`None`: no file key).
    file: Option<&'static str>,
    /// The effective value, as text, and its source.
    get: fn(&Settings) -> (String, Source),
    /// The value each layer gives: flag, env, file, default.
    values: [&'static str; 4],
}

fn dur(d: &Setting<Duration>) -> (String, Source) {
    (
        humantime::format_duration(d.value).to_string(),
        d.source.clone(),
    )
}

fn opt_path(p: &Option<Setting<PathBuf>>) -> (String, Source) {
    match p {
        Some(s) => (s.value.display().to_string(), s.source.clone()),
        None => ("none".to_owned(), Source::Default),
    }
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "format",
            flag: Some(|f| f.format = Some("f-flag".into())),
            env: Some(("EIDOS_FORMAT", "f-env")),
            file: Some("format = \"f-file\"\n"),
            get: |s| {
                let f = s.output_format(None);
                (f.value, f.source)
            },
            values: ["f-flag", "f-env", "f-file", "yaml"],
        },
        Row {
            name: "collectors",
            flag: Some(|f| f.collectors = Some(vec!["a".into()])),
            env: Some(("EIDOS_COLLECTORS", "b, c")),
            file: Some("default-collectors = [\"d\"]\n"),
            get: |s| (s.collectors.value.join(","), s.collectors.source.clone()),
            values: ["a", "b,c", "d", ""],
        },
        Row {
            name: "require",
            flag: Some(|f| f.require = Some(vec!["gpu".into()])),
            env: Some(("EIDOS_REQUIRE", "k8s")),
            file: Some("require = [\"os\", \"gpu\"]\n"),
            get: |s| (s.require.value.join(","), s.require.source.clone()),
            values: ["gpu", "k8s", "os,gpu", ""],
        },
        Row {
            name: "timeout",
            flag: Some(|f| f.timeout = vec![parse_timeout_item("1s").unwrap()]),
            env: Some(("EIDOS_TIMEOUT", "2s")),
            file: Some("timeout = \"3s\"\n"),
            get: |s| dur(&s.timeouts.global()),
            values: ["1s", "2s", "3s", "5s"],
        },
        Row {
            name: "timeouts.k8s",
            flag: Some(|f| f.timeout = vec![parse_timeout_item("k8s=1m").unwrap()]),
            env: Some(("EIDOS_TIMEOUT", "k8s=2m")),
            file: Some("[timeouts]\nk8s = \"3m\"\n"),
            get: |s| dur(&s.timeouts.for_collector("k8s")),
            values: ["1m", "2m", "3m", "5s"],
        },
        Row {
            name: "no-default-plugin-dirs",
            flag: Some(|f| f.no_default_plugin_dirs = true),
            env: Some(("EIDOS_NO_DEFAULT_PLUGIN_DIRS", "yes")),
            file: None,
            get: |s| {
                (
                    s.no_default_plugin_dirs.value.to_string(),
                    s.no_default_plugin_dirs.source.clone(),
                )
            },
            values: ["true", "true", "", "false"],
        },
        Row {
            name: "plugin-lock",
            flag: Some(|f| f.plugin_lock = Some("/flag.lock".into())),
            env: Some(("EIDOS_PLUGIN_LOCK", "/env.lock")),
            file: Some("plugin-lock = \"/file.lock\"\n"),
            get: |s| opt_path(&s.plugin_lock),
            values: ["/flag.lock", "/env.lock", "/file.lock", "none"],
        },
        Row {
            name: "recipes",
            flag: Some(|f| f.recipes = Some("/flag".into())),
            env: Some(("EIDOS_RECIPES", "/env")),
            file: Some("recipes = \"/file\"\n"),
            get: |s| opt_path(&s.recipes),
            values: ["/flag", "/env", "/file", "none"],
        },
        Row {
            name: "host-root",
            flag: None,
            env: Some(("EIDOS_HOST_ROOT", "/env")),
            file: Some("host-root = \"/file\"\n"),
            get: |s| {
                (
                    s.host_root.value.display().to_string(),
                    s.host_root.source.clone(),
                )
            },
            values: ["", "/env", "/file", "/"],
        },
        Row {
            name: "serve.addr",
            flag: Some(|f| f.serve.addr = Some("127.0.0.1:1".parse().unwrap())),
            env: Some(("EIDOS_ADDR", "127.0.0.1:2")),
            file: Some("[serve]\naddr = \"127.0.0.1:3\"\n"),
            get: |s| (s.serve.addr.value.to_string(), s.serve.addr.source.clone()),
            values: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "0.0.0.0:8080"],
        },
        Row {
            name: "serve.addr by port",
            flag: Some(|f| f.serve.port = Some(4)),
            env: Some(("PORT", "39999")),
            file: Some("[serve]\naddr = \"127.0.0.1:7000\"\n"),
            get: |s| (s.serve.addr.value.to_string(), s.serve.addr.source.clone()),
            values: [
                "0.0.0.0:4",
                "0.0.0.0:39999",
                "127.0.0.1:7000",
                "0.0.0.0:8080",
            ],
        },
        Row {
            name: "serve.rate-limit",
            flag: Some(|f| f.serve.rate_limit = Some(1.5)),
            env: Some(("EIDOS_RATE_LIMIT", "2")),
            file: Some("[serve]\nrate-limit = 3\n"),
            get: |s| {
                (
                    s.serve.rate_limit.value.to_string(),
                    s.serve.rate_limit.source.clone(),
                )
            },
            values: ["1.5", "2", "3", "100"],
        },
        Row {
            name: "serve.rate-burst",
            flag: Some(|f| f.serve.rate_burst = Some(1)),
            env: Some(("EIDOS_RATE_BURST", "2")),
            file: Some("[serve]\nrate-burst = 3\n"),
            get: |s| {
                (
                    s.serve.rate_burst.value.to_string(),
                    s.serve.rate_burst.source.clone(),
                )
            },
            values: ["1", "2", "3", "200"],
        },
        Row {
            name: "serve.request-timeout",
            flag: Some(|f| f.serve.request_timeout = Some(Duration::from_secs(1))),
            env: Some(("EIDOS_REQUEST_TIMEOUT", "2s")),
            file: Some("[serve]\nrequest-timeout = \"3s\"\n"),
            get: |s| dur(&s.serve.request_timeout),
            values: ["1s", "2s", "3s", "10s"],
        },
        Row {
            name: "serve.shutdown-timeout",
            flag: Some(|f| f.serve.shutdown_timeout = Some(Duration::from_secs(1))),
            env: Some(("EIDOS_SHUTDOWN_TIMEOUT", "2s")),
            file: Some("[serve]\nshutdown-timeout = \"3s\"\n"),
            get: |s| dur(&s.serve.shutdown_timeout),
            values: ["1s", "2s", "3s", "30s"],
        },
        Row {
            name: "serve.body-limit",
            flag: Some(|f| f.serve.body_limit = Some(1)),
            env: Some(("EIDOS_BODY_LIMIT", "2")),
            file: Some("[serve]\nbody-limit = 3\n"),
            get: |s| {
                (
                    s.serve.body_limit.value.to_string(),
                    s.serve.body_limit.source.clone(),
                )
            },
            values: ["1", "2", "3", "1048576"],
        },
    ]
}

/// Resolves with the chosen layers of `row` set.
fn resolve_row(row: &Row, flag: bool, env: bool, file: bool) -> Settings {
    let mut flags = Flags::default();
    if flag {
        (row.flag.expect("the row has a flag"))(&mut flags);
    }
    let var = row.env.filter(|_| env);
    let lookup = move |name: &str| match var {
        Some((v, value)) if v == name => Some(OsString::from(value)),
        _ => None,
    };
    let config = match row.file.filter(|_| file) {
        Some(text) => Config::from_text(text, Path::new(FILE)).unwrap(),
        None => Config::default(),
    };
    let location = Setting::new(config.path.clone(), Source::Default);
    Settings::resolve(&flags, &lookup, &config, location)
        .unwrap_or_else(|e| panic!("{}: {e}", row.name))
}

fn kind(source: &Source) -> &'static str {
    match source {
        Source::Flag(_) => "flag",
        Source::Env(_) => "env",
        Source::File { .. } => "file",
        Source::OutputExtension => "extension",
        Source::Default => "default",
    }
}

#[test]
fn every_setting_takes_flags_over_environment_over_file_over_default() {
    const LAYERS: [&str; 4] = ["flag", "env", "file", "default"];
    let mut checked = 0;
    for row in rows() {
        let has = [row.flag.is_some(), row.env.is_some(), row.file.is_some()];
        // Every combination of layers present: the highest one present wins.
        for mask in 0..8u8 {
            let set = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0];
            if (0..3).any(|i| set[i] && !has[i]) {
                continue;
            }
            let settings = resolve_row(&row, set[0], set[1], set[2]);
            let (value, source) = (row.get)(&settings);
            let winner = (0..3).find(|&i| set[i]).unwrap_or(3);
            assert_eq!(
                (value.as_str(), kind(&source)),
                (row.values[winner], LAYERS[winner]),
                "{}: layers set {set:?}",
                row.name
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}

#[test]
fn file_values_name_their_file_and_line() {
    let config = Config::from_text(
        "format = \"json\"\n\n[serve]\naddr = \"127.0.0.1:7000\"\n",
        Path::new(FILE),
    )
    .unwrap();
    let settings = Settings::resolve(
        &Flags::default(),
        &|_| None,
        &config,
        Setting::new(config.path.clone(), Source::Flag("--config")),
    )
    .unwrap();
    assert_eq!(
        settings.serve.addr.source.to_string(),
        format!("file {FILE}:4")
    );
    assert_eq!(
        settings.format.unwrap().source.to_string(),
        format!("file {FILE}:1")
    );
}

/// flag, env, file, --output, expected format, the start of its source.
type FormatCase = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

#[test]
fn an_explicit_format_beats_the_output_extension_which_beats_the_file() {
    let resolve = |flag: Option<&str>, env: Option<&'static str>, file: Option<&str>| {
        let flags = Flags {
            format: flag.map(str::to_owned),
            ..Flags::default()
        };
        let lookup = move |name: &str| env.filter(|_| name == "EIDOS_FORMAT").map(OsString::from);
        let config = match file {
            Some(f) => Config::from_text(&format!("format = \"{f}\"\n"), Path::new(FILE)).unwrap(),
            None => Config::default(),
        };
        Settings::resolve(
            &flags,
            &lookup,
            &config,
            Setting::new(None, Source::Default),
        )
        .unwrap()
    };
    let cases: [FormatCase; 9] = [
        // flag, env, file, --output, expected format, its source
        (None, None, None, None, "yaml", "default"),
        (
            None,
            None,
            None,
            Some("out.json"),
            "json",
            "--output extension",
        ),
        (
            None,
            None,
            Some("json"),
            Some("out.yaml"),
            "yaml",
            "--output extension",
        ),
        (
            None,
            None,
            Some("json"),
            Some("out.YML"),
            "yaml",
            "--output extension",
        ),
        (None, None, Some("json"), Some("out.txt"), "json", "file"),
        (None, None, Some("json"), None, "json", "file"),
        (
            Some("json"),
            None,
            None,
            Some("out.yaml"),
            "json",
            "flag --format",
        ),
        (
            None,
            Some("json"),
            Some("yaml"),
            Some("out.yaml"),
            "json",
            "env EIDOS_FORMAT",
        ),
        (
            Some("table"),
            Some("json"),
            Some("yaml"),
            Some("out.json"),
            "table",
            "flag --format",
        ),
    ];
    for (flag, env, file, output, want, source) in cases {
        let got = resolve(flag, env, file).output_format(output.map(Path::new));
        assert_eq!(got.value, want, "{flag:?} {env:?} {file:?} {output:?}");
        assert!(
            got.source.to_string().starts_with(source),
            "{flag:?} {env:?} {file:?} {output:?}: {}",
            got.source
        );
    }
}

#[test]
fn within_a_layer_a_collectors_own_timeout_beats_the_global_one() {
    let flags = Flags {
        timeout: ["5s", "k8s=60s", "gpu=1s", "2s"]
            .iter()
            .map(|t| parse_timeout_item(t).unwrap())
            .collect(),
        ..Flags::default()
    };
    let config = Config::from_text("[timeouts]\nos = \"9s\"\n", Path::new(FILE)).unwrap();
    let env = |name: &str| (name == "EIDOS_TIMEOUT").then(|| OsString::from("systemd=7s, 3s"));
    let s = Settings::resolve(&flags, &env, &config, Setting::new(None, Source::Default)).unwrap();
    // The later global item of the flag layer wins over the earlier one.
    assert_eq!(s.timeouts.global().value, Duration::from_secs(2));
    assert_eq!(
        s.timeouts.for_collector("k8s").value,
        Duration::from_secs(60)
    );
    assert_eq!(
        s.timeouts.for_collector("gpu").value,
        Duration::from_secs(1)
    );
    // A global flag beats a lower layer's per-collector value.
    assert_eq!(
        s.timeouts.for_collector("systemd").value,
        Duration::from_secs(2)
    );
    assert_eq!(s.timeouts.for_collector("os").value, Duration::from_secs(2));
    assert_eq!(s.timeouts.named(), ["gpu", "k8s", "os", "systemd"]);
}

fn resolve_err(env: &[(&'static str, &'static str)], file: &str) -> String {
    let env = env.to_vec();
    let lookup = move |name: &str| {
        env.iter()
            .find(|(v, _)| *v == name)
            .map(|(_, value)| OsString::from(value))
    };
    let config = Config::from_text(file, Path::new(FILE)).unwrap();
    Settings::resolve(
        &Flags::default(),
        &lookup,
        &config,
        Setting::new(None, Source::Default),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn errors_name_the_variable_or_the_file_line_and_key() {
    let err = resolve_err(&[("EIDOS_TIMEOUT", "soon")], "");
    assert!(
        err.starts_with("EIDOS_TIMEOUT: invalid value \"soon\": "),
        "{err}"
    );
    let err = resolve_err(&[("EIDOS_TIMEOUT", "5s,k8s=")], "");
    assert!(err.starts_with("EIDOS_TIMEOUT: "), "{err}");
    let err = resolve_err(&[("PORT", "eighty")], "");
    assert!(err.starts_with("PORT: invalid value \"eighty\""), "{err}");
    let err = resolve_err(&[("EIDOS_RATE_LIMIT", "-1")], "");
    assert!(err.starts_with("EIDOS_RATE_LIMIT: "), "{err}");
    let err = resolve_err(&[("EIDOS_NO_DEFAULT_PLUGIN_DIRS", "maybe")], "");
    assert!(err.starts_with("EIDOS_NO_DEFAULT_PLUGIN_DIRS: "), "{err}");
    let err = resolve_err(&[], "format = \"json\"\ntimeout = \"soon\"\n");
    assert!(
        err.starts_with(&format!(
            "config file {FILE}:2: key `timeout`: invalid value \"soon\""
        )),
        "{err}"
    );
    let err = resolve_err(&[], "[timeouts]\n\nk8s = \"0s\"\n");
    assert!(
        err.starts_with(&format!("config file {FILE}:3: key `timeouts.k8s`")),
        "{err}"
    );
    let err = resolve_err(&[], "[serve]\naddr = \"localhost\"\n");
    assert!(
        err.starts_with(&format!("config file {FILE}:2: key `serve.addr`")),
        "{err}"
    );
    let err = resolve_err(&[], "[serve]\nbody-limit = 0\n");
    assert!(err.contains("key `serve.body-limit`"), "{err}");
    // A variable that is not used because a flag wins is still not parsed: flags win outright.
    let flags = Flags {
        serve: ServeFlags {
            port: Some(1),
            ..ServeFlags::default()
        },
        ..Flags::default()
    };
    let lookup = |name: &str| (name == "PORT").then(|| OsString::from("x"));
    let s = Settings::resolve(
        &flags,
        &lookup,
        &Config::default(),
        Setting::new(None, Source::Default),
    )
    .unwrap();
    assert_eq!(s.serve.addr.value.port(), 1);
}

#[test]
fn a_missing_host_root_names_the_variable_not_an_option() {
    let lookup = |name: &str| (name == "EIDOS_HOST_ROOT").then(|| OsString::from("/nonexistent"));
    let s = Settings::resolve(
        &Flags::default(),
        &lookup,
        &Config::default(),
        Setting::new(None, Source::Default),
    )
    .unwrap();
    let err = s.checked_host_root().unwrap_err().to_string();
    assert!(
        err.starts_with(
            "EIDOS_HOST_ROOT: invalid value \"/nonexistent\": expected an existing directory"
        ),
        "{err}"
    );
    let config = Config::from_text("host-root = \"/nonexistent\"\n", Path::new(FILE)).unwrap();
    let s = Settings::resolve(
        &Flags::default(),
        &|_| None,
        &config,
        Setting::new(None, Source::Default),
    )
    .unwrap();
    let err = s.checked_host_root().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("config file {FILE}:1: key `host-root`")),
        "{err}"
    );
}

#[test]
fn plugin_dirs_come_from_every_layer_in_search_order() {
    let flags = Flags {
        plugin_dirs: vec!["/flag".into()],
        ..Flags::default()
    };
    let lookup = |name: &str| (name == "EIDOS_PLUGIN_PATH").then(|| OsString::from("/e1::/e2"));
    let config = Config::from_text("plugin-dirs = [\"/file\"]\n", Path::new(FILE)).unwrap();
    let s = Settings::resolve(
        &flags,
        &lookup,
        &config,
        Setting::new(None, Source::Default),
    )
    .unwrap();
    let got: Vec<(String, &str)> = s
        .plugin_dirs
        .iter()
        .map(|d| (d.value.display().to_string(), kind(&d.source)))
        .collect();
    assert_eq!(
        got,
        [
            ("/flag".to_owned(), "flag"),
            ("/e1".to_owned(), "env"),
            ("/e2".to_owned(), "env"),
            ("/file".to_owned(), "file")
        ]
    );
}

#[test]
fn overlays_come_from_every_layer_the_flags_applied_last() {
    let flags = Flags {
        overlays: vec!["/flag1".into(), "/flag2".into()],
        ..Flags::default()
    };
    let lookup = |name: &str| (name == "EIDOS_OVERLAYS").then(|| OsString::from("/e1::/e2"));
    let config = Config::from_text("overlays = [\"/file\"]\n", Path::new(FILE)).unwrap();
    let s = Settings::resolve(
        &flags,
        &lookup,
        &config,
        Setting::new(None, Source::Default),
    )
    .unwrap();
    let got: Vec<(String, &str)> = s
        .overlays
        .iter()
        .map(|d| (d.value.display().to_string(), kind(&d.source)))
        .collect();
    assert_eq!(
        got,
        [
            ("/file".to_owned(), "file"),
            ("/e1".to_owned(), "env"),
            ("/e2".to_owned(), "env"),
            ("/flag1".to_owned(), "flag"),
            ("/flag2".to_owned(), "flag"),
        ]
    );
    // --recipes is untouched by overlays, and overlays by --recipes.
    assert_eq!(s.recipes, None);
    let none = Settings::resolve(
        &Flags::default(),
        &|_: &str| None,
        &Config::default(),
        Setting::new(None, Source::Default),
    )
    .unwrap();
    assert!(none.overlays.is_empty());
}

#[test]
fn the_config_file_is_the_flag_else_the_variable_else_the_default_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("config.toml");
    std::fs::write(&present, "format = \"json\"\n").unwrap();
    let absent = dir.path().join("absent.toml");
    let env_path = present.clone();
    let lookup =
        move |name: &str| (name == "EIDOS_CONFIG").then(|| env_path.clone().into_os_string());
    let flags = Flags {
        config: Some("/flag.toml".into()),
        ..Flags::default()
    };
    let loc = config_location(&flags, &lookup, None).unwrap();
    assert_eq!(loc.source, Source::Flag("--config"));
    let loc = config_location(&Flags::default(), &lookup, None).unwrap();
    assert_eq!(
        (loc.value, loc.source),
        (Some(present.clone()), Source::Env("EIDOS_CONFIG"))
    );
    let loc = config_location(&Flags::default(), &|_| None, Some(&present)).unwrap();
    assert_eq!(
        (loc.value, loc.source),
        (Some(present.clone()), Source::Default)
    );
    let loc = config_location(&Flags::default(), &|_| None, Some(&absent)).unwrap();
    assert_eq!(loc.value, None);
    // An explicit file that is missing is an error; a missing default file is not.
    assert!(Settings::load_with(&flags, &|_| None, None).is_err());
    assert!(Settings::load_with(&Flags::default(), &|_| None, Some(&absent)).is_ok());
    let s = Settings::load_with(&Flags::default(), &|_| None, Some(&present)).unwrap();
    assert_eq!(s.format.unwrap().value, "json");
}

#[test]
fn output_extensions_name_json_and_yaml_only() {
    assert_eq!(format_of_extension(Path::new("a.json")), Some("json"));
    assert_eq!(format_of_extension(Path::new("a.JSON")), Some("json"));
    assert_eq!(format_of_extension(Path::new("a.yml")), Some("yaml"));
    assert_eq!(format_of_extension(Path::new("a.yaml")), Some("yaml"));
    assert_eq!(format_of_extension(Path::new("snapshot")), None);
    assert_eq!(format_of_extension(Path::new("out.txt")), None);
}
