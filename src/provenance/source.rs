//! Where a module's source is: its directory, and when that is inside a git work tree, the
//! repository, the commit `HEAD` names and whether the directory has changes the commit lacks.
//! `git` runs as a subprocess (three short commands per repository and run); without `git`, or
//! outside a work tree, the source is its path alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::statement::{GitSource, Source};

/// The source of the module in `dir`.
pub fn probe(dir: &Path) -> Source {
    let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    Source {
        git: git_source(&path),
        path: path.display().to_string(),
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // A prompt for credentials or a pager would hang a pack.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
}

/// What one repository says, asked once per run: packing a hundred modules of one repository
/// runs `git` three times, not three hundred.
#[derive(Debug, Clone)]
struct Repository {
    repository: String,
    commit: String,
    /// The paths (relative to the root) that `git status` lists: changed, staged, untracked.
    changed: Vec<String>,
}

static REPOSITORIES: std::sync::Mutex<BTreeMap<PathBuf, Option<Repository>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The work tree `dir` is in: the nearest ancestor holding `.git` (a directory, or the file
/// of a linked work tree or a submodule).
fn work_tree(dir: &Path) -> Option<&Path> {
    dir.ancestors()
        .find(|ancestor| ancestor.join(".git").exists())
}

fn git_source(dir: &Path) -> Option<GitSource> {
    let root = work_tree(dir)?;
    let repository = {
        let mut known = REPOSITORIES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known
            .entry(root.to_owned())
            .or_insert_with(|| read_repository(root))
            .clone()?
    };
    let directory = dir
        .strip_prefix(root)
        .ok()
        .map(|relative| relative.display().to_string())
        .filter(|relative| !relative.is_empty())
        .unwrap_or_else(|| ".".to_owned());
    // A changed path inside the directory, or an untracked directory holding it (`git status`
    // lists an untracked directory once, not its files).
    let dirty = repository.changed.iter().any(|path| {
        let path = Path::new(path);
        directory == "." || path.starts_with(&directory) || Path::new(&directory).starts_with(path)
    });
    Some(GitSource {
        repository: repository.repository,
        commit: repository.commit,
        directory,
        dirty,
    })
}

fn read_repository(root: &Path) -> Option<Repository> {
    let commit = git(root, &["rev-parse", "HEAD"])?.trim().to_owned();
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // `-z`: paths as they are, NUL-separated; a rename's source follows it as its own entry.
    let status = git(
        root,
        &["status", "--porcelain", "-z", "--untracked-files=normal"],
    )?;
    let mut changed = Vec::new();
    let mut entries = status.split('\0').filter(|entry| !entry.is_empty());
    while let Some(entry) = entries.next() {
        changed.push(entry.get(3..).unwrap_or_default().to_owned());
        // A rename or a copy: its source path follows, whole.
        if entry.starts_with(['R', 'C'])
            && let Some(source) = entries.next()
        {
            changed.push(source.to_owned());
        }
    }
    let repository = git(root, &["config", "--get", "remote.origin.url"])
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| root.display().to_string());
    Some(Repository {
        repository,
        commit,
        changed,
    })
}
