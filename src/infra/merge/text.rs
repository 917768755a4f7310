//! git's own text merge, `git merge-file`, for what the entries do not cover.

use std::process::{Command, Stdio};

use anyhow::Context as _;

use super::{ANCESTOR, OURS, Sides, THEIRS};

/// What `git merge-file` made of three texts: the merged text, with git's markers around each
/// of `conflicts` regions.
pub struct TextMerge {
    pub text: String,
    pub conflicts: usize,
}

/// `git merge-file -p` of the three texts, labelled as `lock merge` labels its own conflicts.
pub fn merge_file(sides: Sides<'_>) -> anyhow::Result<TextMerge> {
    let dir = tempfile::tempdir().context("failed to create a temporary directory")?;
    let [ours, ancestor, theirs] = ["ours", "base", "theirs"].map(|name| dir.path().join(name));
    for (path, text) in [
        (&ours, sides.ours),
        (&ancestor, sides.ancestor),
        (&theirs, sides.theirs),
    ] {
        crate::fs::write_new_file(path, text.as_bytes(), false)?;
    }
    let output = Command::new("git")
        .args(["merge-file", "-p", "-L", OURS, "-L", ANCESTOR, "-L", THEIRS])
        .arg(&ours)
        .arg(&ancestor)
        .arg(&theirs)
        .stdin(Stdio::null())
        .output()
        .context("failed to run `git merge-file`\nhint: is `git` installed and on `PATH`?")?;
    let text = String::from_utf8(output.stdout)
        .context("`git merge-file` wrote text that is not UTF-8")?;
    // Its exit code is the number of conflicts (at most 127), or 255 when it failed.
    match output.status.code() {
        Some(conflicts @ 0..=127) => Ok(TextMerge {
            text,
            conflicts: usize::try_from(conflicts).unwrap_or(1),
        }),
        _ => anyhow::bail!(
            "`git merge-file` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}
