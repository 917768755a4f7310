//! `git setup` and `lock merge`: the merge drivers that let a team merge the files the tool
//! writes into an infra (the merges themselves are `crate::infra::merge`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::cli::LockMergeArgs;
use crate::context::Context;
use crate::fs::FileKind;
use crate::infra::merge::{self, FILE_NAMES, MergedFile, Sides};
use crate::printer::Printer;
use crate::{Outcome, UsageError};

/// The merge driver's name in `.git/config` and `.gitattributes`.
const DRIVER: &str = "provisioning";
/// The comment above the lines `git setup` adds to `.gitattributes`.
const ATTRIBUTES_COMMENT: &str =
    "# Merge drivers of `provisioning` for the files it writes (`provisioning git setup`)";

/// `lock merge %O %A %B %P`: merges the three versions into `%A`; exit 1 on a conflict.
pub fn lock_merge(args: &LockMergeArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let path = args.path.display();
    let Some(file) = MergedFile::of(&args.path) else {
        return Err(UsageError(format!(
            "`{path}` is not a file `lock merge` merges\nhint: it merges an infra's {}",
            FILE_NAMES.map(|name| format!("`{name}`")).join(", ")
        ))
        .into());
    };
    let kind = match file {
        MergedFile::Lock => FileKind::Lock,
        MergedFile::Manifest => FileKind::InfraManifest,
        MergedFile::Generated => FileKind::Nickel,
    };
    let read = |side: &Path| {
        crate::fs::read_to_string(side, kind)
            .with_context(|| format!("failed to read `{}`", side.display()))
    };
    let (ancestor, ours, theirs) = (
        read(&args.ancestor)?,
        read(&args.ours)?,
        read(&args.theirs)?,
    );
    let sides = Sides {
        ancestor: &ancestor,
        ours: &ours,
        theirs: &theirs,
    };
    let merged = merge::merge(file, sides, &args.path)
        .with_context(|| format!("failed to merge `{path}`"))?;
    crate::fs::atomic_write(&args.ours, merged.text.as_bytes())
        .with_context(|| format!("failed to write the merged `{path}`"))?;
    let infra = merge::infra_name(&args.path);
    for conflict in &merged.conflicts {
        printer.error_message(format!(
            "conflict in `{path}`: `{}` is {} on our side and {} on theirs\nhint: keep one side between the markers, then run `provisioning providers sync {infra}` and `git add {path}`",
            conflict.key, conflict.ours, conflict.theirs
        ));
    }
    if merged.text_conflicts > 0 {
        printer.error_message(format!(
            "conflict in `{path}`: git's text merge left {} conflicting region(s) outside the dependencies\nhint: resolve them between the markers, then run `provisioning providers sync {infra}` and `git add {path}`",
            merged.text_conflicts
        ));
    }
    if merged.conflicts.is_empty() && merged.text_conflicts == 0 {
        printer.verbose(format!("merged `{path}`"));
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::Failure)
    }
}

/// `git setup`: registers the driver in `.git/config` and the infras' files in
/// `.gitattributes`; what is already there is left as it is.
pub fn setup(context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let top = git(&context.base, &["rev-parse", "--show-toplevel"]).with_context(|| {
        format!(
            "`{}` is not in a git repository\nhint: `git init` it first",
            context.base.display()
        )
    })?;
    let top = PathBuf::from(top.trim_end_matches('\n'));
    let lines = attribute_lines(context, &top)?;
    let attributes = top.join(".gitattributes");
    let existing = match crate::fs::read_to_string(&attributes, FileKind::Config) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("failed to read `{}`", attributes.display()));
        }
    };
    match with_lines(&existing, &lines) {
        Some(text) => {
            crate::fs::atomic_write(&attributes, text.as_bytes())?;
            printer.status("Updated", format!("`{}`", attributes.display()));
        }
        None => printer.status("Unchanged", format!("`{}`", attributes.display())),
    }
    let exe = std::env::current_exe().context("failed to find the path of `provisioning`")?;
    let driver = format!(
        "{} lock merge %O %A %B %P",
        shell_quoted(&exe.to_string_lossy())
    );
    let settings = [
        (
            "name",
            "provisioning: infra lock files, manifests and generated files",
        ),
        ("driver", driver.as_str()),
    ];
    let mut changed = false;
    for (key, value) in settings {
        let key = format!("merge.{DRIVER}.{key}");
        if git(&top, &["config", "--local", "--get", &key])
            .ok()
            .as_deref()
            != Some(&format!("{value}\n"))
        {
            git(&top, &["config", "--local", &key, value])?;
            changed = true;
        }
    }
    let config = format!("the merge driver `{DRIVER}` in the repository's `.git/config`");
    printer.status(if changed { "Registered" } else { "Unchanged" }, config);
    Ok(Outcome::Success)
}

/// The `.gitattributes` lines for the files of every infra under the workspace:
/// `workspace/infra/*/providers.manifest.yaml merge=provisioning`, relative to the repository.
fn attribute_lines(context: &Context, top: &Path) -> anyhow::Result<Vec<String>> {
    let root = context.infra_root();
    let canonical = std::fs::canonicalize(&root).with_context(|| {
        format!(
            "the workspace's infra directory `{}` does not exist\nhint: create an infra first: `provisioning module-loader init <infra>`",
            root.display()
        )
    })?;
    let relative = canonical.strip_prefix(top).map_err(|_| {
        anyhow::anyhow!(
            "the infra directory `{}` is outside the git repository `{}`",
            canonical.display(),
            top.display()
        )
    })?;
    let prefix: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let plain = |part: &String| {
        part.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    if let Some(part) = prefix.iter().find(|part| !plain(part)) {
        anyhow::bail!(
            "the infra directory `{}` has `{part}` in its path, which `.gitattributes` cannot match as it is\nhint: name the directories with letters, digits, `.`, `_` and `-`",
            canonical.display()
        );
    }
    let prefix: String = prefix.iter().map(|part| format!("{part}/")).collect();
    Ok(FILE_NAMES
        .iter()
        .map(|file| format!("{prefix}*/{file} merge={DRIVER}"))
        .collect())
}

/// `existing` with the `lines` it lacks added at its end (under a comment saying who added
/// them), or `None` when it has them all.
fn with_lines(existing: &str, lines: &[String]) -> Option<String> {
    let has = |wanted: &str| existing.lines().any(|line| line.trim() == wanted);
    let missing: Vec<&String> = lines.iter().filter(|line| !has(line)).collect();
    if missing.is_empty() {
        return None;
    }
    let mut text = existing.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !has(ATTRIBUTES_COMMENT) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(ATTRIBUTES_COMMENT);
        text.push('\n');
    }
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    Some(text)
}

/// `text` as one word for the shell git runs the driver with.
fn shell_quoted(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Runs `git -C dir args…`; its stdout, or an error with what it said.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .context("failed to run `git`\nhint: is `git` installed and on `PATH`?")?;
    if !output.status.success() {
        anyhow::bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lines_are_added_once_and_others_kept() {
        let lines = vec![
            "a/*/x merge=provisioning".to_owned(),
            "a/*/y merge=provisioning".to_owned(),
        ];
        let added = with_lines("*.png binary", &lines).expect("added");
        assert_eq!(
            added,
            format!(
                "*.png binary\n\n{ATTRIBUTES_COMMENT}\na/*/x merge=provisioning\na/*/y merge=provisioning\n"
            )
        );
        assert_eq!(with_lines(&added, &lines), None);
        let partial = format!("{ATTRIBUTES_COMMENT}\na/*/x merge=provisioning\n");
        assert_eq!(
            with_lines(&partial, &lines).expect("completed"),
            format!("{partial}a/*/y merge=provisioning\n")
        );
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_they_need_it() {
        assert_eq!(
            shell_quoted("/usr/bin/provisioning"),
            "/usr/bin/provisioning"
        );
        assert_eq!(
            shell_quoted("/opt/my tools/it's"),
            "'/opt/my tools/it'\\''s'"
        );
    }
}
