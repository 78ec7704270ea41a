//! The streaming listing (`eidos_fleet::listing`) against the fake API server: the lister stays
//! at most a couple of pages ahead of its reader, and a list that fails part way says so.

use eidos_fleet::listing;
use eidos_fleet::store::{SNAPSHOT_KEY, SNAPSHOT_SELECTOR};
use eidos_fleet::Access;
use eidos_k8s_fake::{FakeApiServer, FakeCluster, Fault};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

const CM_PATH: &str = "/api/v1/namespaces/eidos/configmaps";

fn snapshot_config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("eidos".to_owned()),
            labels: Some(BTreeMap::from([(
                "eidos.dgxc.io/kind".to_owned(),
                "snapshot".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            SNAPSHOT_KEY.to_owned(),
            format!("kind: Snapshot\n# {name}\n"),
        )])),
        ..ConfigMap::default()
    }
}

fn serve(count: usize) -> (FakeApiServer, tempfile::TempDir, Access) {
    let server = FakeApiServer::start(FakeCluster::empty()).unwrap();
    for i in 0..count {
        server.insert_config_map(snapshot_config_map(&format!("node-{i:05}")));
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path()).unwrap();
    let access = Access {
        kubeconfig: Some(kubeconfig.display().to_string()),
        context: None,
    };
    (server, dir, access)
}

fn pages_asked(server: &FakeApiServer) -> usize {
    server
        .requests_to(CM_PATH)
        .iter()
        .filter(|r| r.method == "GET")
        .count()
}

#[test]
fn the_lister_stays_at_most_two_pages_ahead_of_its_reader() {
    const PAGE: usize = 50;
    let (server, _dir, access) = serve(1000);
    let listing = listing::list(&access, "eidos", SNAPSHOT_SELECTOR, PAGE as u32).unwrap();
    let outcome = listing.outcome();
    let mut listing = listing.peekable();
    // Read one snapshot, then hold still: a lister that is not held back by its reader lists all
    // 20 pages in this time; this one can never get past the second (the page whose first
    // snapshot was read, in the queue, and the page it waits to queue). The wait only gives a
    // wrong lister its chance to show: it cannot fail a right one, however slow the machine.
    assert!(listing.peek().is_some());
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while std::time::Instant::now() < until {
        let asked = pages_asked(&server);
        assert!(
            asked <= 2,
            "{asked} pages asked for after one snapshot read"
        );
        std::thread::yield_now();
    }
    let mut names = Vec::new();
    for listed in listing {
        // Before this snapshot is let go: what was read, one page queued behind it, the page
        // the lister holds, and the page it may be fetching. Listing everything first (20 pages)
        // before handing out the first snapshot would fail here at once.
        let read = names.len() + 1;
        let asked = pages_asked(&server);
        assert!(
            asked <= read.div_ceil(PAGE) + 3,
            "{asked} pages asked for after {read} snapshots read"
        );
        assert_eq!(
            listed.text().unwrap(),
            format!("kind: Snapshot\n# {}\n", listed.name)
        );
        names.push(listed.name);
    }
    outcome.check().unwrap();
    assert_eq!(names.len(), 1000);
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "in name order, once each"
    );
    assert_eq!(pages_asked(&server), 20);
}

#[test]
fn an_expired_token_restarts_the_listing_and_every_configmap_comes_once() {
    let (server, _dir, access) = serve(120);
    server.inject(Fault::ExpireContinue {
        times: 2,
        replace_pods: None,
    });
    let listing = listing::list(&access, "eidos", SNAPSHOT_SELECTOR, 50).unwrap();
    let outcome = listing.outcome();
    let names: Vec<String> = listing.map(|l| l.name).collect();
    outcome.check().unwrap();
    let expected: Vec<String> = (0..120).map(|i| format!("node-{i:05}")).collect();
    assert_eq!(names, expected);
}

#[test]
fn a_list_that_fails_part_way_ends_the_iterator_and_says_why() {
    let (server, _dir, access) = serve(120);
    server.inject(Fault::ExpireContinue {
        times: u32::MAX,
        replace_pods: None,
    });
    let listing = listing::list(&access, "eidos", SNAPSHOT_SELECTOR, 50).unwrap();
    let outcome = listing.outcome();
    assert_eq!(listing.count(), 50);
    let err = outcome.check().unwrap_err().to_string();
    assert!(err.contains("410"), "{err}");

    let (server, _dir, access) = serve(3);
    server.inject(Fault::on("GET", CM_PATH, 403, 1));
    let listing = listing::list(&access, "eidos", SNAPSHOT_SELECTOR, 50).unwrap();
    let outcome = listing.outcome();
    assert_eq!(listing.count(), 0);
    let err = outcome.check().unwrap_err().to_string();
    assert!(err.contains("may not `list` `configmaps`"), "{err}");
}
