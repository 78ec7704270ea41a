//! What the documents promise, held to: 405 messages agree with `Allow`, POST bodies are read as
//! strictly as GET parameters and as the CLI reads snapshots, `If-None-Match` is parsed as RFC
//! 9110 writes it, version numbers and `context` agree with docs/openapi.yaml, and the
//! header-count limit docs/api.md states.

use super::harness::{client, config, expect_error, raw_request, read_response, TestServer};
use crate::routes::ROUTES;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test]
async fn a_405_names_the_methods_its_allow_header_lists() {
    let server = TestServer::start(config()).await;
    for route in ROUTES {
        let response = client()
            .delete(server.url(route.path))
            .send()
            .await
            .unwrap();
        let allow: BTreeSet<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|method| method.trim().to_owned())
            .collect();
        let body = expect_error(response, 405, "METHOD_NOT_ALLOWED").await;
        let message = body["message"].as_str().unwrap();
        let listed: BTreeSet<String> = message
            .rsplit_once("allowed: ")
            .unwrap_or_else(|| panic!("{}: {message}", route.path))
            .1
            .split(", ")
            .map(str::to_owned)
            .collect();
        assert_eq!(listed, allow, "{}: {message}", route.path);
        // Every route answers some method; a GET route answers HEAD too.
        assert!(!allow.is_empty(), "{}", route.path);
        if allow.contains("GET") {
            assert!(allow.contains("HEAD"), "{allow:?}");
        }
    }
    server.stop().await;
}

async fn post(server: &TestServer, body: &str) -> reqwest::Response {
    client()
        .post(server.url("/v1/recipe"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_body_that_gives_a_key_twice_is_400_like_a_parameter_given_twice() {
    let server = TestServer::start(config()).await;
    let get = client()
        .get(server.url("/v1/recipe?gpu=h100&gpu=h200"))
        .send()
        .await
        .unwrap();
    let get = expect_error(get, 400, "INVALID_REQUEST").await;
    assert_eq!(get["details"]["parameter"], "gpu");

    let body = expect_error(
        post(&server, r#"{"gpu":"h100","service":"eks","gpu":"h200"}"#).await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    assert_eq!(body["details"]["parameter"], "gpu", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("\"gpu\"") && message.contains("more than once"),
        "{message}"
    );

    // In a snapshot too, at any depth: which reading would count is not for the server to guess.
    let snapshot = r#"{"kind":"Snapshot","apiVersion":"snapshot.dgxc.io/v1","measurements":[
        {"type":"OS","subtypes":[{"subtype":"release","data":{"ID":"ubuntu","ID":"rhel"}}]}]}"#;
    let body = expect_error(post(&server, snapshot).await, 400, "INVALID_REQUEST").await;
    assert!(
        body["message"].as_str().unwrap().contains("\"ID\""),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_snapshot_nothing_can_be_derived_from_is_400_as_the_cli_exits_2() {
    let server = TestServer::start(config()).await;
    for snapshot in [
        json!({"kind": "Snapshot", "apiVersion": "snapshot.dgxc.io/v1", "measurements": []}),
        json!({"kind": "Snapshot", "apiVersion": "snapshot.dgxc.io/v1", "measurements": [
            {"type": "OS", "subtypes": [{"subtype": "release", "data": {"NAME": "Plan 9"}}]}
        ]}),
    ] {
        for url in ["/v1/recipe", "/v1/recipe?gpu=h100"] {
            let response = client()
                .post(server.url(url))
                .json(&snapshot)
                .send()
                .await
                .unwrap();
            let body = expect_error(response, 400, "INVALID_REQUEST").await;
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("cannot derive a query from the snapshot"),
                "{url}: {message}"
            );
        }
    }
    // One derivable field is enough.
    let one = json!({"kind": "Snapshot", "apiVersion": "snapshot.dgxc.io/v1", "measurements": [
        {"type": "OS", "subtypes": [{"subtype": "release", "data": {"ID": "ubuntu"}}]}
    ]});
    let response = client()
        .post(server.url("/v1/recipe"))
        .json(&one)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request"]["os"], "ubuntu");
    server.stop().await;
}

#[tokio::test]
async fn if_none_match_lists_weak_and_strong_tags_and_star() {
    let server = TestServer::start(config()).await;
    let url = server.url("/v1/recipe?gpu=h100");
    let first = client().get(&url).send().await.unwrap();
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    let opaque = tag.strip_prefix("W/").unwrap();
    let status = |condition: String| {
        let url = url.clone();
        async move {
            client()
                .get(&url)
                .header("if-none-match", condition)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for condition in [
        tag.clone(),
        opaque.to_owned(),
        "*".to_owned(),
        format!(r#""x,y", {tag}, "z""#),
        format!(r#"W/"a,b,c",{opaque}"#),
    ] {
        assert_eq!(status(condition.clone()).await, 304, "{condition}");
    }
    for condition in [
        r#""x,y""#.to_owned(),
        // A comma inside an unterminated quote is no separator: this is one malformed tag.
        format!(r#""unterminated, {tag}"#),
        format!("{tag}junk"),
        format!(r#""{}""#, &opaque[1..opaque.len() - 2]),
    ] {
        assert_eq!(status(condition.clone()).await, 200, "{condition}");
    }
    server.stop().await;
}

#[tokio::test]
async fn version_numbers_have_at_most_nine_digits_and_empty_context_is_false() {
    let server = TestServer::start(config()).await;
    for (query, parameter) in [
        ("k8s=1.1234567890", "k8s"),
        ("osv=0000000001.04", "osv"),
        ("kernel=6.8.99999999999999999999", "kernel"),
    ] {
        let response = client()
            .get(server.url(&format!("/v1/recipe?{query}")))
            .send()
            .await
            .unwrap();
        let body = expect_error(response, 400, "INVALID_REQUEST").await;
        assert_eq!(body["details"]["parameter"], parameter, "{query}");
        assert!(
            body["message"].as_str().unwrap().contains("9 digits"),
            "{body}"
        );
    }
    let response = client()
        .get(server.url("/v1/recipe?k8s=999999999.123456789&context="))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request"]["k8s"], "999999999.123456789");
    assert!(body["request"].get("context").is_none(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_request_with_more_than_100_header_fields_is_431() {
    let server = TestServer::start(config()).await;
    let head = |fields: usize| {
        let mut head = format!("GET /health HTTP/1.1\r\nHost: {}\r\n", server.addr);
        for i in 1..fields {
            head.push_str(&format!("X-Field-{i}: {i}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    };
    // `head(n)` has n + 1 fields (Host and Connection included): 100 pass, 101 do not.
    for (fields, expected) in [(99, 200), (100, 431)] {
        let mut stream = raw_request(server.addr, &head(fields), b"").await;
        let (status, _) = read_response(&mut stream).await;
        assert_eq!(status, expected, "{} header fields", fields + 1);
    }
    server.stop().await;
}

/// The document's schema `name` (under components/schemas).
fn schema<'a>(document: &'a serde_yaml::Value, name: &str) -> &'a serde_yaml::Value {
    &document["components"]["schemas"][name]
}

#[tokio::test]
async fn the_server_accepts_what_the_openapi_document_allows_and_no_more() {
    let document: serde_yaml::Value = serde_yaml::from_str(crate::OPENAPI_YAML).unwrap();
    let server = TestServer::start(config()).await;
    let status = |query: String| {
        let url = server.url(&format!("/v1/recipe?{query}"));
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    };
    let parameters = document["paths"]["/v1/recipe"]["get"]["parameters"]
        .as_sequence()
        .unwrap();
    let mut enums = 0;
    for parameter in parameters.iter().filter(|p| p["in"] == "query") {
        let name = parameter["name"].as_str().unwrap();
        let mut parameter_schema = &parameter["schema"];
        if let Some(reference) = parameter_schema["$ref"].as_str() {
            parameter_schema = schema(&document, reference.rsplit('/').next().unwrap());
        }
        let Some(values) = parameter_schema["enum"].as_sequence() else {
            continue;
        };
        enums += 1;
        let values: Vec<&str> = values.iter().map(|v| v.as_str().unwrap()).collect();
        for value in &values {
            assert_eq!(
                status(format!("{name}={value}")).await,
                200,
                "{name}={value}"
            );
        }
        // The one value beyond the list that the server could be lenient about.
        let empty = status(format!("{name}=")).await;
        assert_eq!(
            empty == 200,
            values.contains(&""),
            "{name}= answers {empty}; the document's enum is {values:?}"
        );
    }
    assert_eq!(enums, 5, "os, service, gpu, intent, context");

    let version = schema(&document, "VersionText");
    let max_len = usize::try_from(version["maxLength"].as_u64().unwrap()).unwrap();
    let pattern = version["pattern"].as_str().unwrap();
    let digits: usize = pattern
        .split("[0-9]{1,")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .and_then(|n| n.parse().ok())
        .expect("the pattern bounds the digits of a number");
    for name in ["osv", "kernel", "k8s"] {
        let number = "7".repeat(digits);
        assert_eq!(
            status(format!("{name}=1.{number}")).await,
            200,
            "{digits} digits"
        );
        assert_eq!(
            status(format!("{name}=1.{number}7")).await,
            400,
            "{} digits",
            digits + 1
        );
        let longest = format!("1.2-{}", "p".repeat(max_len - 4));
        assert_eq!(
            status(format!("{name}={longest}")).await,
            200,
            "{max_len} characters"
        );
        assert_eq!(
            status(format!("{name}={longest}p")).await,
            400,
            "{} characters",
            max_len + 1
        );
    }
    server.stop().await;
}
