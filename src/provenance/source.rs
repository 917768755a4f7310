//! Where a module's source is: its directory, and when that is inside a git work tree, the
//! repository, the commit `HEAD` names and whether the directory has changes the commit lacks.
//! `git` runs as a subprocess (three short commands); without `git`, or outside a work tree,
//! the source is its path alone.

use std::path::Path;
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

fn git_source(dir: &Path) -> Option<GitSource> {
    let revs = git(dir, &["rev-parse", "--show-toplevel", "HEAD"])?;
    let mut lines = revs.lines();
    let root = Path::new(lines.next()?);
    let commit = lines.next()?.trim().to_owned();
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let directory = dir
        .strip_prefix(std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned()))
        .ok()
        .map(|relative| relative.display().to_string())
        .filter(|relative| !relative.is_empty())
        .unwrap_or_else(|| ".".to_owned());
    let status = git(
        dir,
        &[
            "status",
            "--porcelain",
            "--untracked-files=normal",
            "--",
            ".",
        ],
    )?;
    let repository = git(dir, &["config", "--get", "remote.origin.url"])
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| root.display().to_string());
    Some(GitSource {
        repository,
        commit,
        directory,
        dirty: !status.trim().is_empty(),
    })
}
