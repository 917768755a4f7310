//! Checks that many tests make, named once: a refused command leaves the files as they were.

use super::{Run, TestContext};

impl TestContext {
    /// Runs the binary and asserts that `relative` is byte-identical afterwards (every file,
    /// link and directory as [`TestContext::tree`] shows them); returns the run for the test's
    /// own assertions on what it said.
    #[track_caller]
    pub fn run_unchanged<I, S>(&self, relative: &str, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let before = self.tree(relative);
        let run = self.run(args);
        assert_eq!(self.tree(relative), before, "`{relative}` changed:\n{run}");
        run
    }
}
