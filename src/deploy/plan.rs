//! What a deploy does to each object: compare the desired objects with the live ones floe manages, by their derivation annotation.

use std::collections::BTreeMap;

use serde_json::Value;

use super::desired::{self, Desired, Id};

/// What happens to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Pruned,
}

impl Action {
    /// Whether the object is written (applied or deleted).
    pub fn writes(self) -> bool {
        self != Action::Unchanged
    }
}

/// One object of the plan.
pub struct Step {
    pub action: Action,
    pub id: Id,
    pub api_version: String,
    pub package: Option<String>,
    pub derivation: Option<String>,
    /// The object floe renders (none for one pruned).
    pub desired: Option<Value>,
    /// The object as the server has it (none for one created).
    pub live: Option<Value>,
}

impl Step {
    /// 0 for what other objects live in or are typed by (namespaces,
    /// CustomResourceDefinitions), 1 for the rest: applied 0 then 1, pruned 1 then 0.
    pub fn rank(&self) -> u8 {
        match (self.id.group.as_str(), self.id.kind.as_str()) {
            ("", "Namespace") | ("apiextensions.k8s.io", "CustomResourceDefinition") => 0,
            _ => 1,
        }
    }
}

/// The plan: each desired object created (absent), unchanged (its live
/// derivation annotation is the desired one) or updated (otherwise); each
/// live object floe manages that is not desired and whose package the
/// selection covers, pruned. Objects without the package annotation are never pruned.
pub fn plan(desired: &Desired, live: Vec<Value>) -> Vec<Step> {
    let mut live: BTreeMap<Id, Value> = live.into_iter().filter_map(|o| Some((Id::of(&o)?, o))).collect();
    let mut steps = Vec::with_capacity(desired.objects.len());
    for (id, object) in &desired.objects {
        let current = live.remove(id);
        let derivation = desired::derivation(object).map(str::to_owned);
        let action = match &current {
            None => Action::Created,
            Some(l) if derivation.is_some() && desired::derivation(l) == derivation.as_deref() => Action::Unchanged,
            Some(_) => Action::Updated,
        };
        steps.push(Step {
            action,
            id: id.clone(),
            api_version: object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            package: desired::package(object).map(str::to_owned),
            derivation,
            desired: Some(object.clone()),
            live: current,
        });
    }
    for (id, object) in live {
        let Some(package) = desired::package(&object) else { continue };
        if !desired.covers(package) {
            continue;
        }
        steps.push(Step {
            action: Action::Pruned,
            id,
            api_version: object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            package: Some(package.to_owned()),
            derivation: desired::derivation(&object).map(str::to_owned),
            desired: None,
            live: Some(object),
        });
    }
    steps
}

/// The counts of a plan's actions: created, updated, unchanged, pruned.
pub fn counts<'a>(actions: impl IntoIterator<Item = &'a Action>) -> [usize; 4] {
    let mut n = [0; 4];
    for a in actions {
        n[*a as usize] += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_engine::WsPath;
    use floe_engine::label;
    use serde_json::json;

    fn object(kind: &str, name: &str, package: Option<&str>, drv: &str) -> Value {
        let mut annotations = json!({"floe.dev/derivation": drv});
        if let Some(p) = package {
            annotations["floe.dev/package"] = p.into();
        }
        json!({"apiVersion": "v1", "kind": kind,
               "metadata": {"name": name, "namespace": "floe-sales", "annotations": annotations}})
    }

    #[test]
    fn each_object_gets_one_action() {
        let want = |o: Value| (Id::of(&o).unwrap(), o);
        let desired = Desired {
            objects: vec![
                want(object("ConfigMap", "same", Some("//sales/a"), "blake3:1")),
                want(object("ConfigMap", "edited", Some("//sales/a"), "blake3:2")),
                want(object("ConfigMap", "new", Some("//sales/a"), "blake3:1")),
            ],
            packages: vec![],
            patterns: vec![label::parse("//sales/...", &WsPath::ROOT).unwrap()],
        };
        let live = vec![
            object("ConfigMap", "same", Some("//sales/a"), "blake3:1"),
            object("ConfigMap", "edited", Some("//sales/a"), "blake3:1"),
            object("ConfigMap", "gone", Some("//sales/removed"), "blake3:1"),
            object("ConfigMap", "elsewhere", Some("//finance/b"), "blake3:1"),
            object("ConfigMap", "unlabelled", None, "blake3:1"),
        ];
        let steps = plan(&desired, live);
        let got: Vec<(Action, &str)> = steps.iter().map(|s| (s.action, s.id.name.as_str())).collect();
        assert_eq!(
            got,
            [
                (Action::Unchanged, "same"),
                (Action::Updated, "edited"),
                (Action::Created, "new"),
                (Action::Pruned, "gone")
            ]
        );
        assert_eq!(counts(steps.iter().map(|s| &s.action)), [1, 1, 1, 1]);
    }
}
