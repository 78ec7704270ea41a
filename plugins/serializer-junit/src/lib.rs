//! The `junit` serializer plugin: writes a validation report (`eidos validate --format junit`)
//! as JUnit XML, so that GitLab, Jenkins and GitHub test reporters show it.
//!
//! One `<testsuite>` per measurement type, one `<testcase>` per constraint (`classname` is
//! `TYPE.SUBTYPE`, `name` the key). A failed constraint carries a `<failure>` (its `type` is the
//! severity, its text the expected and actual values, the context and the source); missing and
//! skipped constraints carry a `<skipped>` saying why. Other documents are refused.

use eidos_plugin_api::{SerializeError, Serializer};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::Value;

/// The `kind` of a validation report document.
const REPORT_KIND: &str = "ValidationReport";

/// Writes validation reports as JUnit XML.
pub struct JUnit;

impl Serializer for JUnit {
    const NAME: &'static str = "junit";
    const DESCRIPTION: &'static str =
        "validation reports as JUnit XML (one testsuite per measurement type) for CI";
    const FORMATS: &'static [&'static str] = &["junit"];

    fn serialize(document: &Value, format: &str) -> Result<Vec<u8>, SerializeError> {
        let unsupported = |reason: &str| SerializeError::Unsupported {
            format: format.to_owned(),
            reason: reason.to_owned(),
        };
        if document.get("kind").and_then(Value::as_str) != Some(REPORT_KIND) {
            return Err(unsupported(
                "JUnit XML is written for validation reports only (eidos validate --format junit)",
            ));
        }
        let results = document
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| unsupported("the validation report has no `results` list"))?;
        write(results).map_err(|e| SerializeError::Failed(format!("writing XML: {e}")))
    }
}

/// A JSON value as text: strings bare, `null` empty, everything else as JSON.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// One measurement type's results, in report order.
struct Suite<'r> {
    name: String,
    cases: Vec<&'r Value>,
}

impl Suite<'_> {
    fn count(&self, statuses: &[&str]) -> usize {
        self.cases
            .iter()
            .filter(|c| statuses.contains(&text(c.get("status")).as_str()))
            .count()
    }
}

fn write(results: &[Value]) -> std::io::Result<Vec<u8>> {
    let mut suites: Vec<Suite<'_>> = Vec::new();
    for result in results {
        let kind = text(result.get("type"));
        match suites.iter_mut().find(|s| s.name == kind) {
            Some(suite) => suite.cases.push(result),
            None => suites.push(Suite {
                name: kind,
                cases: vec![result],
            }),
        }
    }
    let total = |statuses: &[&str]| -> usize { suites.iter().map(|s| s.count(statuses)).sum() };
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "eidos validate"));
    root.push_attribute(("tests", results.len().to_string().as_str()));
    root.push_attribute(("failures", total(&["failed"]).to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute((
        "skipped",
        total(&["missing", "skipped"]).to_string().as_str(),
    ));
    w.write_event(Event::Start(root))?;
    for suite in &suites {
        let mut start = BytesStart::new("testsuite");
        start.push_attribute(("name", suite.name.as_str()));
        start.push_attribute(("tests", suite.cases.len().to_string().as_str()));
        start.push_attribute(("failures", suite.count(&["failed"]).to_string().as_str()));
        start.push_attribute(("errors", "0"));
        start.push_attribute((
            "skipped",
            suite.count(&["missing", "skipped"]).to_string().as_str(),
        ));
        w.write_event(Event::Start(start))?;
        for case in &suite.cases {
            write_case(&mut w, case)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

fn write_case(w: &mut Writer<Vec<u8>>, case: &Value) -> std::io::Result<()> {
    let field = |name: &str| text(case.get(name));
    let mut start = BytesStart::new("testcase");
    let classname = format!("{}.{}", field("type"), field("subtype"));
    let key = field("key");
    start.push_attribute(("classname", classname.as_str()));
    start.push_attribute(("name", key.as_str()));
    let status = field("status");
    let details = format!(
        "severity: {}\noperator: {}\nexpected: {}\nactual: {}\ncontext: {}\nsource: {}{}",
        field("severity"),
        field("operator"),
        field("expected"),
        if case.get("actual").is_none_or(Value::is_null) {
            "(absent)".to_owned()
        } else {
            field("actual")
        },
        field("context"),
        field("source"),
        match field("reason") {
            r if r.is_empty() => String::new(),
            r => format!("\nreason: {r}"),
        },
    );
    match status.as_str() {
        "failed" => {
            w.write_event(Event::Start(start))?;
            let mut failure = BytesStart::new("failure");
            let message = format!(
                "{} {}: expected {}, got {}",
                field("severity"),
                field("operator"),
                field("expected"),
                if case.get("actual").is_none_or(Value::is_null) {
                    "nothing (the key is absent)".to_owned()
                } else {
                    field("actual")
                }
            );
            failure.push_attribute(("message", message.as_str()));
            failure.push_attribute(("type", field("severity").as_str()));
            w.write_event(Event::Start(failure))?;
            w.write_event(Event::Text(BytesText::new(&details)))?;
            w.write_event(Event::End(BytesEnd::new("failure")))?;
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        "missing" | "skipped" => {
            w.write_event(Event::Start(start))?;
            let mut skipped = BytesStart::new("skipped");
            let message = format!("{status}: {}", field("reason"));
            skipped.push_attribute(("message", message.as_str()));
            w.write_event(Event::Start(skipped))?;
            w.write_event(Event::Text(BytesText::new(&details)))?;
            w.write_event(Event::End(BytesEnd::new("skipped")))?;
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        _ => {
            w.write_event(Event::Empty(start))?;
        }
    }
    Ok(())
}

eidos_plugin_api::export_serializer!(JUnit);

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Value {
        serde_json::json!({
            "kind": "ValidationReport",
            "summary": {"overall": "fail"},
            "results": [
                {"type": "os", "subtype": "sysctl", "key": "/proc/sys/vm/swappiness", "status": "failed", "severity": "required", "operator": "equals", "expected": "0", "actual": "60", "context": "Kubelet expects <no> swapping & \"resident\" pages", "source": "base.yaml"},
                {"type": "gpu", "subtype": "smi", "key": "driver-version", "status": "skipped", "severity": "required", "operator": ">=", "expected": ">= 570", "actual": null, "context": "driver", "source": "overlays/gpu.yaml (gpu=h100)", "reason": "the gpu collector does not apply to this node"},
                {"type": "os", "subtype": "kmod", "key": "nvidia", "status": "passed", "severity": "required", "operator": "equals", "expected": true, "actual": true, "context": "driver", "source": "base.yaml"}
            ]
        })
    }

    #[test]
    fn one_suite_per_type_one_case_per_constraint_with_escaped_text() {
        let out = String::from_utf8(JUnit::serialize(&report(), "junit").unwrap()).unwrap();
        assert!(
            out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{out}"
        );
        assert_eq!(out.matches("<testsuite ").count(), 2, "{out}");
        assert_eq!(out.matches("<testcase ").count(), 3, "{out}");
        assert!(out.contains("<testsuites name=\"eidos validate\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"), "{out}");
        assert!(
            out.contains("&lt;no&gt; swapping &amp;"),
            "text is escaped: {out}"
        );
        assert!(!out.contains("<no>"), "{out}");
        assert!(
            out.contains("message=\"skipped: the gpu collector does not apply to this node\""),
            "{out}"
        );
        assert!(
            out.contains("<testcase classname=\"os.kmod\" name=\"nvidia\"/>"),
            "{out}"
        );
    }

    #[test]
    fn other_documents_are_refused() {
        let err = JUnit::serialize(
            &serde_json::json!({"kind": "Snapshot", "measurements": []}),
            "junit",
        )
        .unwrap_err();
        assert!(err.to_string().contains("validation reports only"), "{err}");
    }
}
