//! Run-folder checkpoints: resume, init-from, the final model.

use super::settings::Resolved;
use anyhow::{Context, Result, anyhow};
use optimlab::tensor::Scalar;
use optimlab::train::checkpoint::{self, CheckpointMeta};
use optimlab::train::export::export_safetensors;
use optimlab::train::{Trainer, TrainerState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The resumable checkpoint inside a run folder.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

/// Restores a resumed run's state from its folder, or loads `--init-from` weights.
pub fn prepare<T: Scalar>(
    resolved: &Resolved,
    out: &Path,
    resume: bool,
    trainer: &mut Trainer<T>,
) -> Result<()> {
    if resume {
        let path = checkpoint_path(out);
        let ckpt = checkpoint::load::<T>(&path)?;
        ckpt.apply_to_network(&mut trainer.net)?;
        ckpt.restore_network_rngs(&mut trainer.net)?;
        let optimizer_state = ckpt
            .optimizer
            .as_ref()
            .ok_or_else(|| anyhow!("{}: the checkpoint has no optimizer state", path.display()))?;
        trainer
            .optimizer
            .load_state(&mut trainer.net, optimizer_state)
            .with_context(|| path.display().to_string())?;
        let state: TrainerState = ckpt
            .meta
            .extra
            .get("trainer")
            .ok_or_else(|| anyhow!("{}: the checkpoint has no trainer state", path.display()))
            .and_then(|json| {
                serde_json::from_str(json)
                    .with_context(|| format!("{}: unreadable trainer state", path.display()))
            })?;
        trainer.restore(state);
    } else if let Some(init) = &resolved.settings.init_from {
        let weights = checkpoint::load_weights::<T>(Path::new(init))?;
        weights.apply_to_network(&mut trainer.net)?;
    }
    Ok(())
}

/// Writes the resumable checkpoint (atomically; the previous one stays until the new one is
/// complete).
pub fn save<T: Scalar>(resolved: &Resolved, out: &Path, trainer: &mut Trainer<T>) -> Result<()> {
    let mut extra = BTreeMap::new();
    extra.insert(
        "trainer".to_string(),
        serde_json::to_string(&trainer.state())?,
    );
    let meta = CheckpointMeta {
        epoch: trainer.epoch() as u64,
        iter: trainer.iter() as u64,
        config: resolved.to_toml()?,
        scheduler: None,
        rngs: checkpoint::network_rngs(&mut trainer.net),
        extra,
    };
    checkpoint::save(
        &checkpoint_path(out),
        &trainer.net,
        Some(&trainer.optimizer),
        &meta,
    )?;
    Ok(())
}

/// Writes `model.safetensors`: the trained weights alone.
pub fn save_model<T: Scalar>(resolved: &Resolved, out: &Path, trainer: &Trainer<T>) -> Result<()> {
    let config = resolved.to_toml()?;
    export_safetensors(&out.join("model.safetensors"), &trainer.net, Some(&config))?;
    Ok(())
}
