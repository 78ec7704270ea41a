//! The ConfigMap sink and source against the fake API server (`eidos-k8s-fake`: a fake, because
//! no real API server can run here; it speaks the protocol: resourceVersion, 409, 403, 422,
//! label selectors, continue tokens).

use eidos_fleet::store::{self, SNAPSHOT_KEY, SNAPSHOT_SELECTOR};
use eidos_fleet::{connect, Access, CmAddress, StoreError};
use eidos_k8s_fake::{FakeApiServer, FakeCluster, Fault};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

const SNAPSHOT: &str = eidos_test_fixtures::H100_EKS_GO_YAML;

struct Fixture {
    server: FakeApiServer,
    _dir: tempfile::TempDir,
    client: kube::Client,
}

async fn fixture() -> Fixture {
    let server = FakeApiServer::start(FakeCluster::empty()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path()).unwrap();
    let access = Access {
        kubeconfig: Some(kubeconfig.display().to_string()),
        context: None,
    };
    let client = connect(&access, "test").await.unwrap();
    Fixture {
        server,
        _dir: dir,
        client,
    }
}

fn address(name: &str) -> CmAddress {
    CmAddress {
        namespace: "eidos".into(),
        name: name.into(),
    }
}

const CM_PATH: &str = "/api/v1/namespaces/eidos/configmaps";

#[tokio::test]
async fn a_write_creates_then_updates_with_the_version_it_read() {
    let f = fixture().await;
    let a = address("eidos-node-1");
    let first = store::write_snapshot(&f.client, &a, SNAPSHOT, Some("node-1"))
        .await
        .unwrap();
    assert!(first.created && !first.compressed);
    let stored = f.server.config_map("eidos", "eidos-node-1").unwrap();
    assert_eq!(stored.data.as_ref().unwrap()[SNAPSHOT_KEY], SNAPSHOT);
    let labels = stored.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["eidos.dgxc.io/kind"], "snapshot");
    assert_eq!(labels["eidos.dgxc.io/node"], "node-1");
    let version = stored.metadata.resource_version.clone().unwrap();

    let second = store::write_snapshot(&f.client, &a, "kind: Snapshot\n", Some("node-1"))
        .await
        .unwrap();
    assert!(!second.created);
    let puts: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    let updated = f.server.config_map("eidos", "eidos-node-1").unwrap();
    assert_ne!(updated.metadata.resource_version.unwrap(), version);
    assert_eq!(
        store::read_snapshot(&f.client, &a).await.unwrap(),
        "kind: Snapshot\n"
    );
}

#[tokio::test]
async fn a_conflict_is_read_again_and_retried_a_bounded_number_of_times() {
    let f = fixture().await;
    let a = address("n");
    store::write_snapshot(&f.client, &a, SNAPSHOT, None)
        .await
        .unwrap();
    f.server
        .inject(Fault::on("PUT", &format!("{CM_PATH}/n"), 409, 2));
    let written = store::write_snapshot(&f.client, &a, "kind: Snapshot\n", None)
        .await
        .unwrap();
    assert_eq!(written.attempts, 3);
    // Each attempt read the object first.
    let gets = f
        .server
        .requests_to(&format!("{CM_PATH}/n"))
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 1 + 3);

    f.server
        .inject(Fault::on("PUT", &format!("{CM_PATH}/n"), 409, u32::MAX));
    let err = store::write_snapshot(&f.client, &a, SNAPSHOT, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { attempts: 5, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was written"), "{err}");
}

#[tokio::test]
async fn a_create_race_lost_to_another_writer_becomes_an_update() {
    let f = fixture().await;
    f.server.inject(Fault::on("POST", CM_PATH, 409, 1));
    // The fault answers like AlreadyExists would; the retry reads again and finds nothing, so it
    // creates — what matters is that a 409 on create is retried, not fatal.
    let written = store::write_snapshot(&f.client, &address("n"), SNAPSHOT, None)
        .await
        .unwrap();
    assert_eq!(written.attempts, 2);
}

#[tokio::test]
async fn forbidden_names_the_rbac_verb_and_resource() {
    let f = fixture().await;
    f.server.inject(Fault::on("POST", CM_PATH, 403, 1));
    let err = store::write_snapshot(&f.client, &address("n"), SNAPSHOT, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not `create` `configmaps`"), "{err}");
    assert!(err.contains("namespace \"eidos\""), "{err}");
    assert!(err.contains("cannot create resource"), "{err}");

    f.server
        .inject(Fault::on("GET", &format!("{CM_PATH}/n"), 403, 1));
    let err = store::read_snapshot(&f.client, &address("n"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not `get` `configmaps`"), "{err}");

    f.server.inject(Fault::on("GET", CM_PATH, 403, 1));
    let err = store::list_snapshots(&f.client, "eidos", SNAPSHOT_SELECTOR)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not `list` `configmaps`"), "{err}");
}

#[tokio::test]
async fn missing_invalid_and_unreachable_are_told_apart() {
    let f = fixture().await;
    let err = store::read_snapshot(&f.client, &address("absent"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("configmaps \"absent\" not found"));

    f.server.inject(Fault::on("POST", CM_PATH, 422, 1));
    let err = store::write_snapshot(&f.client, &address("n"), SNAPSHOT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = f
        .server
        .write_kubeconfig_with_current(dir.path(), "elsewhere")
        .unwrap();
    let access = Access {
        kubeconfig: Some(kubeconfig.display().to_string()),
        context: None,
    };
    let closed = connect(&access, "test").await.unwrap();
    let err = store::read_snapshot(&closed, &address("n"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn a_configmap_eidos_did_not_write_is_never_overwritten() {
    let f = fixture().await;
    f.server.insert_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("coredns".into()),
            namespace: Some("eidos".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("Corefile".into(), ".:53 {}".into())])),
        ..ConfigMap::default()
    });
    let err = store::write_snapshot(&f.client, &address("coredns"), SNAPSHOT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotASnapshot { .. }), "{err}");
    let kept = f.server.config_map("eidos", "coredns").unwrap();
    assert_eq!(kept.data.unwrap()["Corefile"], ".:53 {}");
}

#[tokio::test]
async fn a_large_snapshot_goes_compressed_and_reads_back_whole() {
    let f = fixture().await;
    let a = address("big");
    // 40 copies of a real snapshot: 1.3 MB of text, far less compressed.
    let text = SNAPSHOT.repeat(40);
    assert!(text.len() > store::CONFIGMAP_MAX_BYTES);
    let written = store::write_snapshot(&f.client, &a, &text, None)
        .await
        .unwrap();
    assert!(written.compressed);
    let stored = f.server.config_map("eidos", "big").unwrap();
    assert!(stored.data.is_none());
    assert!(stored.binary_data.unwrap().contains_key(SNAPSHOT_KEY));
    assert_eq!(store::read_snapshot(&f.client, &a).await.unwrap(), text);
}

/// A list hands each snapshot over undecoded; decoding gives back exactly what was written,
/// compressed or not, and a ConfigMap without a snapshot is that entry's error, not the list's.
#[tokio::test]
async fn listed_snapshots_decode_to_what_was_written_and_one_without_a_snapshot_is_its_own_error() {
    let f = fixture().await;
    let big = SNAPSHOT.repeat(40);
    let small = "kind: Snapshot\n# \"quoted\" \\ back\tslash, ünïcödé €, \u{1F600}\n";
    for (name, text) in [("a-big", big.as_str()), ("b-small", small)] {
        store::write_snapshot(&f.client, &address(name), text, Some(name))
            .await
            .unwrap();
    }
    f.server.insert_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("c-empty".into()),
            namespace: Some("eidos".into()),
            labels: Some(
                [(
                    store::LABEL_KIND.to_owned(),
                    store::KIND_SNAPSHOT.to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        data: Some([("other".to_owned(), "x".to_owned())].into()),
        ..ConfigMap::default()
    });
    let listed = store::list_snapshots(&f.client, "eidos", SNAPSHOT_SELECTOR)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a-big", "b-small", "c-empty"]);
    assert_eq!(listed[0].1.as_ref().unwrap(), &big);
    assert_eq!(listed[1].1.as_ref().unwrap(), small);
    let err = listed[2].1.as_ref().unwrap_err();
    assert!(matches!(err, StoreError::BadContent { .. }), "{err}");
    assert!(err.to_string().contains("cm://eidos/c-empty"), "{err}");
    assert!(err.to_string().contains("holds no snapshot"), "{err}");
}

#[tokio::test]
async fn a_list_follows_continue_tokens_and_keeps_to_the_selector() {
    let f = fixture().await;
    for i in 0..1203 {
        store::write_snapshot(
            &f.client,
            &address(&format!("node-{i:04}")),
            "kind: Snapshot\n",
            Some(&format!("node-{i:04}")),
        )
        .await
        .unwrap();
    }
    // Not snapshots: left out by the selector.
    f.server.insert_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("other".into()),
            namespace: Some("eidos".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    });
    let listed = store::list_snapshots(&f.client, "eidos", SNAPSHOT_SELECTOR)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1203);
    assert_eq!(listed[0].0, "node-0000");
    assert_eq!(listed[1202].0, "node-1202");
    assert!(listed
        .iter()
        .all(|(_, t)| t.as_ref().unwrap() == "kind: Snapshot\n"));
    let pages: Vec<_> = f
        .server
        .requests_to(CM_PATH)
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].param("limit"), Some("500"));
    assert!(pages[0].param("continue").is_none());
    assert!(pages[1].param("continue").is_some());

    let one = store::list_snapshots(
        &f.client,
        "eidos",
        &format!("{SNAPSHOT_SELECTOR},eidos.dgxc.io/node=node-0007"),
    )
    .await
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0, "node-0007");
}

async fn write_nodes(f: &Fixture, count: usize) {
    for i in 0..count {
        store::write_snapshot(
            &f.client,
            &address(&format!("n{i}")),
            "kind: Snapshot\n",
            None,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn an_expired_continue_token_restarts_the_list_without_passing_a_configmap_twice() {
    let f = fixture().await;
    write_nodes(&f, 5).await;
    // The second page's token expires: the list starts over and skips n0 and n1.
    f.server.inject(Fault::ExpireContinue {
        times: 1,
        replace_pods: None,
    });
    let mut seen = Vec::new();
    let count = store::for_each_snapshot(&f.client, "eidos", SNAPSHOT_SELECTOR, 2, |name, _| {
        seen.push(name);
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    assert_eq!(seen, ["n0", "n1", "n2", "n3", "n4"]);
    assert_eq!(count, 5);
    let lists: Vec<(u16, bool)> = f
        .server
        .requests_to(CM_PATH)
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| (r.status, r.param("continue").is_some()))
        .collect();
    assert_eq!(
        lists,
        [
            (200, false),
            (410, true),
            (200, false),
            (200, true),
            (200, true)
        ]
    );
}

#[tokio::test]
async fn a_token_that_keeps_expiring_fails_the_list_after_a_bounded_number_of_restarts() {
    let f = fixture().await;
    write_nodes(&f, 3).await;
    f.server.inject(Fault::ExpireContinue {
        times: u32::MAX,
        replace_pods: None,
    });
    let mut seen = Vec::new();
    let err = store::for_each_snapshot(&f.client, "eidos", SNAPSHOT_SELECTOR, 2, |name, _| {
        seen.push(name);
        ControlFlow::Continue(())
    })
    .await
    .unwrap_err();
    assert_eq!(seen, ["n0", "n1"]);
    assert!(err.to_string().contains("410"), "{err}");
    let expired = f
        .server
        .requests_to(CM_PATH)
        .iter()
        .filter(|r| r.status == 410)
        .count();
    assert_eq!(expired as u32, store::LIST_RESTARTS + 1);
}

#[tokio::test]
async fn the_reader_can_stop_the_list_early() {
    let f = fixture().await;
    write_nodes(&f, 5).await;
    let mut seen = 0;
    store::for_each_snapshot(&f.client, "eidos", SNAPSHOT_SELECTOR, 2, |_, _| {
        seen += 1;
        if seen == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
    .unwrap();
    assert_eq!(seen, 3);
    // The third page is never asked for.
    let lists = f
        .server
        .requests_to(CM_PATH)
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(lists, 2);
}
