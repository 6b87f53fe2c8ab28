//! All-or-nothing output folders: a report is built in a hidden staging folder beside its
//! target and renamed into place only when complete, so a failure never leaves a report that
//! looks finished and never damages an earlier complete one.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// A folder being built for `target`. Dropping it without [`Staging::commit`] deletes it.
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
    lock_path: PathBuf,
    /// `.NAME.lock` beside the target: one process writes a report at a time.
    _lock: optimlab::train::FolderLock,
}

/// Files that mark a folder as a report this module wrote (and so may be replaced).
const REPORT_MARKERS: [&str; 2] = ["index.html", "results.json"];

impl Staging {
    /// Prepares to write `target`: creates its parent, refuses a target that is a file or a
    /// non-empty folder that is not a report, and creates the staging folder (which also proves
    /// the parent is writable).
    pub fn new(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .filter(|n| *n != "." && *n != "..")
            .with_context(|| format!("{} names no folder", target.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if target.is_file() {
            bail!("{} is a file, not a folder", target.display());
        }
        if target.is_dir() {
            let empty = std::fs::read_dir(target)
                .with_context(|| format!("cannot read {}", target.display()))?
                .next()
                .is_none();
            let is_report = REPORT_MARKERS.iter().any(|m| target.join(m).exists());
            if !empty && !is_report {
                bail!(
                    "{} already holds files that are not a report; choose a new or empty folder",
                    target.display()
                );
            }
        }
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = optimlab::train::FolderLock::acquire_file(&lock_path, target)?;
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot write in {}", parent.display()))?;
        // Ctrl-C during an experiment must not leave the staging folder behind.
        crate::signals::cleanup_on_signal(&dir);
        crate::signals::cleanup_on_signal(&lock_path);
        Ok(Self {
            lock_path,
            target: target.to_path_buf(),
            dir,
            committed: false,
            _lock: lock,
        })
    }

    /// Where to write the report's files meanwhile.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The final location.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the finished folder into place, replacing an earlier report at the target.
    pub fn commit(mut self) -> Result<()> {
        let old = self.dir.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            std::process::id()
        ));
        // A signal now waits until the report is in place, so it cannot remove the staging
        // folder after the earlier report was moved aside.
        let _no_exit = crate::signals::critical();
        let had_old = self.target.exists();
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&self.target, &old)
                .with_context(|| format!("cannot replace {}", self.target.display()))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(e)
                .with_context(|| format!("cannot move the report into {}", self.target.display()));
        }
        self.committed = true;
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        crate::signals::keep(&self.dir);
        crate::signals::keep(&self.lock_path);
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("optimlab-staging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_dropped_staging_leaves_the_earlier_report() {
        let root = scratch("drop");
        let target = root.join("rep");
        let s = Staging::new(&target).unwrap();
        std::fs::write(s.path().join("index.html"), "first").unwrap();
        s.commit().unwrap();
        let s = Staging::new(&target).unwrap();
        std::fs::write(s.path().join("index.html"), "second, unfinished").unwrap();
        drop(s);
        assert_eq!(
            std::fs::read_to_string(target.join("index.html")).unwrap(),
            "first"
        );
        // Nothing but the report is left beside it.
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        let s = Staging::new(&target).unwrap();
        std::fs::write(s.path().join("index.html"), "third").unwrap();
        s.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("index.html")).unwrap(),
            "third"
        );
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn refuses_files_and_foreign_folders() {
        let root = scratch("refuse");
        std::fs::write(root.join("f"), "x").unwrap();
        assert!(Staging::new(&root.join("f")).is_err());
        std::fs::create_dir(root.join("mine")).unwrap();
        std::fs::write(root.join("mine/notes.txt"), "x").unwrap();
        let err = Staging::new(&root.join("mine")).err().unwrap().to_string();
        assert!(err.contains("not a report"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
