//! Building a recipe's measurements: a copy of the base, then overlays merged in.

use crate::model::{RecipeMeasurement as Measurement, RecipeSubtype as Subtype};
use indexmap::IndexMap;

/// A deep copy of `base`, with the explanations only when `with_context`.
pub(crate) fn copy_base(base: &[Measurement], with_context: bool) -> Vec<Measurement> {
    base.iter()
        .map(|m| Measurement {
            kind: m.kind.clone(),
            subtypes: m
                .subtypes
                .iter()
                .map(|s| copy_subtype(s, with_context))
                .collect(),
        })
        .collect()
}

fn copy_subtype(s: &Subtype, with_context: bool) -> Subtype {
    Subtype {
        subtype: s.subtype.clone(),
        data: s.data.clone(),
        context: if with_context {
            s.context.clone()
        } else {
            IndexMap::new()
        },
        severity: s.severity.clone(),
    }
}

/// Merges `overlay` into `target` by measurement type, then subtype name, then key: an overlay
/// value replaces the value there, and its explanation and severity (an overlay value without an
/// explanation drops the old one, which explained another value; without a severity it is
/// required); new keys, subtypes and types are added at the end.
/// Types in `target` and `overlay` are normalized (lower case) by loading.
pub(crate) fn merge(target: &mut Vec<Measurement>, overlay: &[Measurement], with_context: bool) {
    for m in overlay {
        let Some(into) = target.iter_mut().find(|t| t.kind == m.kind) else {
            target.push(Measurement {
                kind: m.kind.clone(),
                subtypes: m
                    .subtypes
                    .iter()
                    .map(|s| copy_subtype(s, with_context))
                    .collect(),
            });
            continue;
        };
        for s in &m.subtypes {
            let Some(sub) = into.subtypes.iter_mut().find(|t| t.subtype == s.subtype) else {
                into.subtypes.push(copy_subtype(s, with_context));
                continue;
            };
            for (key, value) in &s.data {
                sub.data.insert(key.clone(), value.clone());
                match s.severity.get(key) {
                    Some(severity) => {
                        sub.severity.insert(key.clone(), *severity);
                    }
                    None => {
                        sub.severity.shift_remove(key);
                    }
                }
                if with_context {
                    match s.context.get(key) {
                        Some(line) => {
                            sub.context.insert(key.clone(), line.clone());
                        }
                        None => {
                            sub.context.shift_remove(key);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use eidos_plugin_api::Reading;

    #[derive(Clone, Copy)]
    enum MeasurementType {
        Os,
        Gpu,
    }

    impl Measurement {
        fn new(kind: MeasurementType, subtypes: Vec<Subtype>) -> Measurement {
            let kind = match kind {
                MeasurementType::Os => "os",
                MeasurementType::Gpu => "gpu",
            };
            Measurement {
                kind: kind.to_owned(),
                subtypes,
            }
        }
    }

    fn sub(name: &str, pairs: &[(&str, i64, Option<&str>)]) -> Subtype {
        let mut s = Subtype {
            subtype: name.to_owned(),
            ..Subtype::default()
        };
        for (k, v, c) in pairs {
            s.data.insert((*k).into(), Reading::Int(*v));
            if let Some(c) = c {
                s.context.insert((*k).into(), (*c).into());
            }
        }
        s
    }

    fn base() -> Vec<Measurement> {
        vec![Measurement::new(
            MeasurementType::Os,
            vec![sub(
                "sysctl",
                &[("a", 1, Some("why a")), ("b", 2, Some("why b"))],
            )],
        )]
    }

    #[test]
    fn overlay_values_replace_and_extend_in_order() {
        let overlay = vec![
            Measurement::new(
                MeasurementType::Os,
                vec![
                    sub("sysctl", &[("b", 20, Some("why b now")), ("c", 3, None)]),
                    sub("kmod", &[("x", 1, None)]),
                ],
            ),
            Measurement::new(MeasurementType::Gpu, vec![sub("driver", &[("v", 1, None)])]),
        ];
        let mut out = copy_base(&base(), true);
        merge(&mut out, &overlay, true);
        let sysctl = &out[0].subtypes[0];
        let keys: Vec<_> = sysctl.data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["a", "b", "c"],
            "replaced keys keep their place, new ones go last"
        );
        assert_eq!(sysctl.data["b"], Reading::Int(20));
        assert_eq!(sysctl.context["b"], "why b now");
        assert_eq!(sysctl.context["a"], "why a");
        assert_eq!(out[0].subtypes[1].subtype, "kmod");
        assert_eq!(out[1].kind, "gpu");
    }

    #[test]
    fn a_replaced_value_without_context_drops_the_old_explanation() {
        let overlay = vec![Measurement::new(
            MeasurementType::Os,
            vec![sub("sysctl", &[("a", 9, None)])],
        )];
        let mut out = copy_base(&base(), true);
        merge(&mut out, &overlay, true);
        assert!(!out[0].subtypes[0].context.contains_key("a"));
        assert_eq!(out[0].subtypes[0].context["b"], "why b");
    }

    #[test]
    fn context_is_stripped_unless_asked() {
        let overlay = vec![Measurement::new(
            MeasurementType::Os,
            vec![
                sub("sysctl", &[("c", 3, Some("why c"))]),
                sub("new", &[("n", 1, Some("why n"))]),
            ],
        )];
        let mut out = copy_base(&base(), false);
        merge(&mut out, &overlay, false);
        assert!(out
            .iter()
            .flat_map(|m| &m.subtypes)
            .all(|s| s.context.is_empty()));
        assert_eq!(out[0].subtypes[0].data.len(), 3);
    }

    #[test]
    fn the_base_is_never_modified() {
        let original = base();
        let overlay = vec![Measurement::new(
            MeasurementType::Os,
            vec![sub("sysctl", &[("a", 9, None)])],
        )];
        let mut out = copy_base(&original, true);
        merge(&mut out, &overlay, true);
        assert_eq!(original, base());
    }

    #[test]
    fn severity_follows_the_value_that_set_it() {
        let mut recommended = sub("sysctl", &[("a", 1, None), ("b", 2, None)]);
        recommended
            .severity
            .insert("a".into(), Severity::Recommended);
        recommended
            .severity
            .insert("b".into(), Severity::Recommended);
        let base = vec![Measurement::new(MeasurementType::Os, vec![recommended])];
        let mut overlay_sub = sub("sysctl", &[("a", 9, None)]);
        overlay_sub.severity.clear();
        let overlay = vec![Measurement::new(MeasurementType::Os, vec![overlay_sub])];
        let mut out = copy_base(&base, false);
        assert_eq!(out[0].subtypes[0].severity_of("a"), Severity::Recommended);
        merge(&mut out, &overlay, false);
        assert_eq!(
            out[0].subtypes[0].severity_of("a"),
            Severity::Required,
            "restated without a severity: required"
        );
        assert_eq!(out[0].subtypes[0].severity_of("b"), Severity::Recommended);
    }
}
