//! Copying a study between storages (any two back ends): `optimlab tune export/import`.

use super::Storage;
use crate::tune::error::{Result, TuneError};

/// What [`copy_study`] copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    pub study: String,
    pub trials: usize,
}

/// Copies the study `name` from `from` into `to`: its direction, attributes and every trial
/// as it is (any state, values, intermediate values, attributes), under the same numbers.
/// Refused with [`TuneError::NoStudy`] when `from` has no such study and with
/// [`TuneError::StudyExists`] when `to` already has one (nothing is written: a copy never
/// merges into an existing study).
pub fn copy_study(from: &dyn Storage, to: &dyn Storage, name: &str) -> Result<CopyReport> {
    let info = from
        .find_study(name)?
        .ok_or_else(|| TuneError::NoStudy(name.to_string()))?;
    if to.find_study(name)?.is_some() {
        return Err(TuneError::StudyExists(name.to_string()));
    }
    let trials = from.trials(info.id)?;
    let created = to.create_study(&info.name, info.direction, &info.system_attrs)?;
    for (k, v) in &info.user_attrs {
        to.set_study_user_attr(created.id, k, v)?;
    }
    for t in &trials {
        to.import_trial(created.id, t)?;
    }
    Ok(CopyReport {
        study: info.name,
        trials: trials.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::storage::memory::MemoryStorage;
    use crate::tune::trial::{Direction, TrialState};
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn copies_every_trial_and_refuses_an_existing_destination() {
        let (a, b) = (MemoryStorage::new(), MemoryStorage::new());
        let s = a
            .create_study("s", Direction::Minimize, &BTreeMap::new())
            .unwrap();
        a.set_study_user_attr(s.id, "note", &json!("kept")).unwrap();
        for value in [3.0, 1.0] {
            let t = a
                .claim_trial(s.id, "w", Duration::from_secs(60), None)
                .unwrap()
                .unwrap();
            a.report(t.id, "w", 0, value * 2.0).unwrap();
            a.finish(t.id, "w", TrialState::Complete, Some(value))
                .unwrap();
        }
        let report = copy_study(&a, &b, "s").unwrap();
        assert_eq!(
            report,
            CopyReport {
                study: "s".into(),
                trials: 2
            }
        );
        let copied = b.find_study("s").unwrap().unwrap();
        assert_eq!(copied.user_attrs.get("note"), Some(&json!("kept")));
        let (ta, tb) = (a.trials(s.id).unwrap(), b.trials(copied.id).unwrap());
        assert_eq!(ta.len(), tb.len());
        for (x, y) in ta.iter().zip(&tb) {
            assert_eq!(
                (x.number, x.state, x.value, &x.intermediate),
                (y.number, y.state, y.value, &y.intermediate)
            );
        }
        assert!(matches!(
            copy_study(&a, &b, "s"),
            Err(TuneError::StudyExists(_))
        ));
        assert_eq!(b.trials(copied.id).unwrap().len(), 2);
        assert!(matches!(
            copy_study(&a, &b, "t"),
            Err(TuneError::NoStudy(_))
        ));
    }
}
