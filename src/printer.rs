//! All output goes through the [`Printer`]: data on stdout (a table, JSON or YAML, as
//! `--format` says), status, warnings and errors on stderr (status silenced by `--quiet`,
//! colored unless `--color never` or `NO_COLOR`).
//!
//! Message style: lower-case, names and paths in backticks, no trailing period, and a
//! `hint:` line when there is an obvious next step.
//!
//! Names and messages come from files and the network (archive entries, metadata, a server's
//! error): every control character in them is printed escaped (`\u{1b}`), never raw, so no input
//! can move the cursor, recolor or retitle the user's terminal. Only the printer's own colors
//! and line breaks reach the terminal as such.

use std::io::{IsTerminal as _, Write as _};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::cli::{ColorChoice, GlobalArgs, OutputFormat};

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const STATUS: Style = AnsiColor::Green.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();

#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    quiet: bool,
    verbose: bool,
    color: bool,
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Self {
            format: global.format,
            quiet: global.quiet,
            verbose: global.verbose,
            color,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn stderr_line(&self, line: &str) {
        // A closed stderr leaves nowhere to report to; there is nothing better to do.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A status line such as `   Installed upcloud into wuji`, in cargo's style.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if !self.quiet {
            self.stderr_line(&format!(
                "{} {}",
                self.paint(STATUS, &format!("{verb:>12}")),
                escape_controls(&message.to_string())
            ));
        }
    }

    /// Detail shown with `--verbose` only.
    pub fn verbose(&self, message: impl std::fmt::Display) {
        if self.verbose && !self.quiet {
            self.stderr_line(&format!(
                "{:>12} {}",
                "",
                escape_controls(&message.to_string())
            ));
        }
    }

    pub fn warning(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            self.stderr_line(&self.labelled(WARNING, "warning", &message.to_string()));
        }
    }

    /// An error that does not stop the command (one of several operations failed).
    pub fn error_message(&self, message: impl std::fmt::Display) {
        self.stderr_line(&self.labelled(ERROR, "error", &message.to_string()));
    }

    /// The error that ended the command, with its chain of causes.
    pub fn error(&self, error: &anyhow::Error) {
        let mut text = error.to_string();
        for cause in error.chain().skip(1) {
            text.push_str(&format!("\n  caused by: {}", indent(&cause.to_string())));
        }
        self.error_message(text);
    }

    /// Labels a message, moving every `hint:` line to the end and coloring the labels.
    fn labelled(&self, style: Style, label: &str, message: &str) -> String {
        let message = escape_controls(message);
        let (hints, lines): (Vec<&str>, Vec<&str>) = message
            .lines()
            .partition(|line| line.trim_start().starts_with("hint:"));
        let mut out = format!("{}: {}", self.paint(style, label), lines.join("\n"));
        for hint in hints {
            let text = hint.trim_start().trim_start_matches("hint:").trim_start();
            out.push_str(&format!("\n{}: {text}", self.paint(HINT, "hint")));
        }
        out
    }

    /// A progress bar on stderr, when stderr is a terminal and output is not `--quiet`.
    pub fn progress(&self, len: usize, message: &str) -> Option<indicatif::ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix:>12.green.bold} [{bar:30}] {pos}/{len} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(message.to_owned());
        Some(bar)
    }

    /// Prints a report on stdout for `--format json|yaml` only; people read the status lines.
    pub fn report<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        if self.format == OutputFormat::Table {
            return Ok(());
        }
        self.data(value, Table::default)
    }

    /// Prints data on stdout: `table` renders it for humans, `value` is serialized for
    /// `--format json|yaml`.
    pub fn data<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce() -> Table,
    ) -> anyhow::Result<()> {
        let text = match self.format {
            // The formats of one command are refused by every other before it runs.
            OutputFormat::Table
            | OutputFormat::Toml
            | OutputFormat::Text
            | OutputFormat::Dot
            | OutputFormat::Mermaid
            | OutputFormat::CycloneDx
            | OutputFormat::Spdx => table().render(),
            OutputFormat::Json => serde_json::to_string_pretty(value)? + "\n",
            OutputFormat::Yaml => serde_yaml_ng::to_string(value)?,
        };
        crate::write_stdout(&text)?;
        Ok(())
    }
}

/// `text` with every control character but the line break escaped (`\u{1b}`, `\r`, `\u{9b}`).
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n  ")
}

/// A plain text table: a header row and left-aligned columns separated by two spaces.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    empty: Option<String>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Adds a row; its cells are printed with control characters (line breaks too) escaped.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(
            cells
                .into_iter()
                .map(|cell| escape_controls(&cell).replace('\n', "\\n"))
                .collect(),
        );
    }

    /// What to print instead of a header alone when there are no rows.
    pub fn when_empty(mut self, message: &str) -> Self {
        self.empty = Some(message.to_owned());
        self
    }

    /// One table of several, each under its name in a first column `header` (`INFRA`): the
    /// header of the first with rows, and each table's rows, or its empty message, after its
    /// name.
    pub fn merged(header: &str, tables: Vec<(String, Table)>) -> Table {
        let mut merged = Table {
            header: vec![header.to_owned()],
            ..Table::default()
        };
        if let Some((_, first)) = tables.iter().find(|(_, table)| !table.rows.is_empty()) {
            merged.header.extend(first.header.iter().cloned());
        }
        for (name, table) in tables {
            let name = escape_controls(&name).replace('\n', "\\n");
            if table.rows.is_empty() {
                let empty = table.empty.unwrap_or_else(|| "-".to_owned());
                merged.rows.push(vec![name.clone(), empty]);
            }
            for row in table.rows {
                merged
                    .rows
                    .push(std::iter::once(name.clone()).chain(row).collect());
            }
        }
        merged
    }

    pub fn render(&self) -> String {
        if let Some(message) = self.empty.as_ref().filter(|_| self.rows.is_empty()) {
            return format!("{message}\n");
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if index + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    // Padded by hand: `format!`'s width stops at 65535 and panics beyond (a
                    // registry's yank reason can be longer).
                    line.push_str(cell);
                    let padding = width.saturating_sub(cell.chars().count()) + 2;
                    line.extend(std::iter::repeat_n(' ', padding));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_wider_than_formats_width_limit_is_printed() {
        let long = "a".repeat(70_000);
        let mut table = Table::new(["REASON", "NEXT"]);
        table.row([long.clone(), "x".into()]);
        let rendered = table.render();
        assert!(
            rendered.ends_with(&format!("{long}  x\n")),
            "{}",
            rendered.len()
        );
    }

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(["NAME", "VERSION", "DESCRIPTION"]);
        table.row(["upcloud".into(), "0.0.1".into(), "UpCloud servers".into()]);
        table.row(["aws".into(), "1.10.0".into(), String::new()]);
        assert_eq!(
            table.render(),
            "NAME     VERSION  DESCRIPTION\nupcloud  0.0.1    UpCloud servers\naws      1.10.0\n"
        );
    }

    #[test]
    fn control_characters_from_input_are_escaped() {
        assert_eq!(escape_controls("plain `name`\nnext"), "plain `name`\nnext");
        assert_eq!(
            escape_controls("evil\u{1b}]0;pwned\u{7}\rname\u{9b}31m"),
            "evil\\u{1b}]0;pwned\\u{7}\\rname\\u{9b}31m"
        );
        let mut table = Table::new(["NAME"]);
        table.row(["a\u{1b}[2Jb\nc".into()]);
        assert_eq!(table.render(), "NAME\na\\u{1b}[2Jb\\nc\n");
    }

    #[test]
    fn merged_tables_name_each_part_in_a_first_column() {
        let mut a = Table::new(["MODULE", "STATE"]);
        a.row(["aws_prov".into(), "ok".into()]);
        a.row(["provisioning_core".into(), "ok".into()]);
        let b = Table::new(["MODULE", "STATE"]).when_empty("no packs in `b`");
        let mut c = Table::new(["ERROR"]);
        c.row(["failed to validate `c`".into()]);
        let merged = Table::merged(
            "INFRA",
            vec![("a".into(), a), ("b".into(), b), ("c".into(), c)],
        );
        assert_eq!(
            merged.render(),
            "INFRA  MODULE                  STATE\n\
             a      aws_prov                ok\n\
             a      provisioning_core       ok\n\
             b      no packs in `b`\n\
             c      failed to validate `c`\n"
        );
    }

    #[test]
    fn empty_tables_say_so() {
        let table = Table::new(["NAME"]).when_empty("no providers installed");
        assert_eq!(table.render(), "no providers installed\n");
    }
}
