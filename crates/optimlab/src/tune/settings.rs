//! A study's settings, typed: what the study needs to run (sampler, pruner, seed, budget,
//! the pruner's resource) plus whatever its objective needs, kept opaque.
//!
//! Each setting is stored as its own study system attribute `optimlab:KEY` (see
//! [`Study`](super::study::Study)), so the typed struct serialises to the same JSON object the
//! command line wrote before it existed, and studies written then open unchanged.

use super::error::{Result, TuneError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The settings stored with a study. Unset fields take the documented defaults when the
/// study runs, and are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StudySettings {
    /// The sampler, as [`sampler::parse`](super::sampler::parse) reads it (`random`,
    /// `tpe[:options]`, …); `random` when unset. May change when the study is reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<String>,
    /// The pruner, as [`pruner::parse`](super::pruner::parse) reads it; `none` when unset.
    /// May change when the study is reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruner: Option<String>,
    /// The sampler's seed; 0 when unset. May change when the study is reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Trials of the whole study, all workers together; unset: until the sampler runs out.
    /// May grow when the study is reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
    /// Steps a full trial reports (the pruner's resource); 1 when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_resource: Option<u64>,
    /// The objective's own settings (for `optimlab tune`: `train`, `metric`, `final`). A study
    /// reopened with other values here is refused: they define what a trial's value means.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StudySettings {
    /// The sampler's name and options, defaulted.
    pub fn sampler_or_default(&self) -> &str {
        self.sampler.as_deref().unwrap_or("random")
    }

    /// The pruner's name and options, defaulted.
    pub fn pruner_or_default(&self) -> &str {
        self.pruner.as_deref().unwrap_or("none")
    }

    /// The settings as one JSON object, key by key as they are stored.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("a struct of plain fields serialises to an object"),
        }
    }

    /// Reads settings from a JSON object; a known setting of the wrong type is refused.
    pub fn from_map(map: Map<String, Value>) -> Result<StudySettings> {
        serde_json::from_value(Value::Object(map))
            .map_err(|e| TuneError::Config(format!("study settings: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_to_the_object_the_cli_wrote_before() {
        let old = json!({
            "sampler": "tpe", "pruner": "median", "seed": 7, "budget": 20, "max_resource": 5,
            "train": {"epochs": 5}, "metric": "val_acc", "final": "last"
        });
        let Value::Object(map) = old.clone() else {
            unreachable!()
        };
        let s = StudySettings::from_map(map.clone()).unwrap();
        assert_eq!(s.sampler.as_deref(), Some("tpe"));
        assert_eq!(s.budget, Some(20));
        assert_eq!(s.extra.len(), 3);
        assert_eq!(s.to_map(), map);
        assert_eq!(serde_json::to_value(&s).unwrap(), old);
    }

    #[test]
    fn unset_settings_are_left_out_and_defaulted() {
        let s = StudySettings::default();
        assert_eq!(s.to_map(), Map::new());
        assert_eq!(s.sampler_or_default(), "random");
        assert_eq!(s.pruner_or_default(), "none");
        let err = StudySettings::from_map(match json!({"seed": "three"}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("study settings"), "{err}");
    }
}
