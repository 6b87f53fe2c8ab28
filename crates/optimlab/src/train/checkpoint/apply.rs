//! Applying what was read to a network: [`Weights`] tensors (exact or allowing extra ones) and
//! a [`Checkpoint`]'s random streams.

use super::error::{CheckpointError, Misshaped};
use super::{Checkpoint, Weights};
use crate::nn::Network;
use crate::tensor::Scalar;
use std::collections::BTreeSet;

impl<T: Scalar> Weights<T> {
    /// The file's `format` metadata, if any.
    pub fn format(&self) -> Option<&str> {
        self.metadata.get("format").map(String::as_str)
    }

    /// The run configuration stored with the weights (JSON), if any.
    pub fn config(&self) -> Option<&str> {
        self.metadata.get("config").map(String::as_str)
    }

    /// Copies the tensors into `net`. Every tensor of the network must be in the file with the
    /// same shape, and every tensor of the file in the network; otherwise nothing is copied and
    /// the error names each missing, mis-shaped and extra tensor.
    pub fn apply_to_network(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        self.apply(net, false).map(|_| ())
    }

    /// As [`Weights::apply_to_network`], but tensors the network does not have are ignored;
    /// returns their names.
    pub fn apply_to_network_allowing_extra(
        &self,
        net: &mut Network<T>,
    ) -> Result<Vec<String>, CheckpointError> {
        self.apply(net, true)
    }

    fn apply(
        &self,
        net: &mut Network<T>,
        allow_extra: bool,
    ) -> Result<Vec<String>, CheckpointError> {
        let mut missing = Vec::new();
        let mut misshaped = Vec::new();
        let mut seen = BTreeSet::new();
        net.visit_tensors(&mut |name, shape, _| {
            seen.insert(name.to_string());
            match self.tensors.get(name) {
                None => missing.push(name.to_string()),
                Some(t) if t.shape != shape => misshaped.push(Misshaped {
                    name: name.to_string(),
                    file: t.shape.clone(),
                    network: shape.to_vec(),
                }),
                Some(_) => {}
            }
        });
        let extra: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        if !missing.is_empty() || !misshaped.is_empty() || (!allow_extra && !extra.is_empty()) {
            return Err(CheckpointError::Mismatch {
                path: self.path.clone(),
                missing,
                misshaped,
                extra: if allow_extra { Vec::new() } else { extra },
            });
        }
        net.visit_tensors_mut(&mut |name, _, values| {
            values.copy_from_slice(&self.tensors[name].values);
        });
        Ok(extra)
    }
}

impl<T: Scalar> Checkpoint<T> {
    /// Copies the network tensors into `net` (see [`Weights::apply_to_network`]).
    pub fn apply_to_network(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        self.weights.apply_to_network(net)
    }

    /// Restores the network's random streams saved from
    /// [`network_rngs`](super::network_rngs); each must be present.
    pub fn restore_network_rngs(&self, net: &mut Network<T>) -> Result<(), CheckpointError> {
        let mut rngs = net.rngs_mut();
        let missing: Vec<String> = (0..rngs.len())
            .map(|i| format!("network.{i}"))
            .filter(|k| !self.meta.rngs.contains_key(k))
            .collect();
        if !missing.is_empty() {
            return Err(CheckpointError::Metadata {
                path: self.weights.path.clone(),
                key: "rngs".into(),
                reason: format!("no saved state for {}", missing.join(", ")),
            });
        }
        for (i, r) in rngs.iter_mut().enumerate() {
            **r = self.meta.rngs[&format!("network.{i}")].clone();
        }
        Ok(())
    }
}
