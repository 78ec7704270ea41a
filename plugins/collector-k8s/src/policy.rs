//! The `policy` subtype: the NVIDIA GPU Operator's `ClusterPolicy` spec, flattened.
//!
//! It is read with kube's dynamic API (`nvidia.com/v1`, `clusterpolicies`), so no generated CRD
//! types are needed and any operator version's fields come through. The spec is flattened the way
//! the reference snapshot shows it: nested objects become dotted keys
//! (`driver.upgradePolicy.drain.enable`), every scalar becomes text (`"true"`, `"300"`), lists
//! become compact JSON text with object keys sorted (`[{"effect":"NoSchedule",…}]`), `null`s and
//! empty objects are left out.

use eidos_plugin_api::Subtype;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, ResourceExt};
use serde_json::{Map, Value};

/// What [`read_cluster_policy`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyRead {
    /// The flattened spec of the (first, by name) ClusterPolicy, and how many there were.
    Found {
        /// The `policy` subtype.
        subtype: Subtype,
        /// The policy's name.
        name: String,
        /// How many ClusterPolicy objects exist (the operator reconciles one).
        count: usize,
    },
    /// The CRD is installed but no ClusterPolicy exists.
    NoObjects,
}

/// Lists ClusterPolicies and flattens the spec of the first by name.
pub async fn read_cluster_policy(client: &kube::Client) -> Result<PolicyRead, kube::Error> {
    let gvk = GroupVersionKind::gvk("nvidia.com", "v1", "ClusterPolicy");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "clusterpolicies");
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let list = api.list(&ListParams::default()).await?;
    let count = list.items.len();
    let Some(first) = list.items.into_iter().min_by_key(|p| p.name_any()) else {
        return Ok(PolicyRead::NoObjects);
    };
    let empty = Value::Object(Map::new());
    let spec = first.data.get("spec").unwrap_or(&empty);
    Ok(PolicyRead::Found {
        subtype: flatten_spec(spec),
        name: first.name_any(),
        count,
    })
}

/// Flattens a ClusterPolicy spec into the `policy` subtype, keys sorted.
pub fn flatten_spec(spec: &Value) -> Subtype {
    let mut subtype = Subtype::new("policy");
    walk("", spec, &mut subtype);
    subtype.sort();
    subtype
}

fn walk(prefix: &str, value: &Value, out: &mut Subtype) {
    let text = match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&path, child, out);
            }
            return;
        }
        Value::Null => return,
        Value::Array(_) => sorted_keys(value).to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
    };
    if !prefix.is_empty() {
        out.insert(prefix, text);
    }
}

/// A copy of `value` whose objects have their keys in sorted order (how the Go tool wrote lists).
fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::Reading;
    use serde_json::json;

    #[test]
    fn flattens_nested_objects_scalars_and_lists() {
        let spec = json!({
            "driver": {"enabled": true, "startupProbe": {"failureThreshold": 120},
                       "certConfig": {"name": ""}, "nothing": null, "empty": {}},
            "daemonsets": {
                "labels": {"helm.sh/chart": "gpu-operator-v25.3.0"},
                "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]
            },
            "mig": {"strategy": "single"}
        });
        let s = flatten_spec(&spec);
        let keys: Vec<&str> = s.data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "daemonsets.labels.helm.sh/chart",
                "daemonsets.tolerations",
                "driver.certConfig.name",
                "driver.enabled",
                "driver.startupProbe.failureThreshold",
                "mig.strategy"
            ]
        );
        assert_eq!(s.data["driver.enabled"], Reading::from("true"));
        assert_eq!(
            s.data["driver.startupProbe.failureThreshold"],
            Reading::from("120")
        );
        assert_eq!(s.data["driver.certConfig.name"], Reading::from(""));
        assert_eq!(
            s.data["daemonsets.tolerations"],
            Reading::from(r#"[{"effect":"NoSchedule","operator":"Exists"}]"#)
        );
    }
}
