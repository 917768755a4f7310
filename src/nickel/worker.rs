//! Evaluation in a worker process, so that a runaway evaluation fails alone. An evaluation that
//! recurses forever or allocates without end cannot be interrupted inside `nickel-lang-core`,
//! and a memory ceiling cannot be held per thread without unsafe code; a process can be bounded
//! and killed. So the binary starts itself as a worker (`provisioning __evaluate-worker`), one
//! per evaluating thread, and keeps it for every file that thread evaluates: the standard
//! library is prepared once per worker, as it was once per thread.
//!
//! - The worker sets its own address-space limit (`setrlimit(RLIMIT_AS)`, through the `rlimit`
//!   crate) and evaluates on a thread with a large stack, for deeply nested data. Past the
//!   limit, an allocation fails and the worker aborts.
//! - The parent sends one request a line (JSON) and waits for the answer with a deadline; on
//!   the deadline it kills the worker. Either way it reports that file's failure, naming the
//!   bound and the key that raises it, and starts a fresh worker for the next file.
//! - An export is answered with a header line that gives its length, then the text itself,
//!   raw. The worker answers only once the evaluation and the serialization have succeeded, and
//!   the parent hands the text on in chunks as it arrives ([`WorkerSlot::evaluate_into`]): an
//!   export of hundreds of megabytes is never held whole by the parent (`export` streams it to
//!   stdout), and no byte of a failed evaluation reaches anyone.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::engine::Engine;
use super::packages::Packages;
use super::{Bounds, Export, NickelError, Output};

/// The hidden subcommand that runs a worker.
pub const SUBCOMMAND: &str = "__evaluate-worker";

/// Stack of the worker's evaluation thread: Nickel's evaluator recurses with the depth of the
/// data. It is reserved address space, counted by the memory limit (so it takes a quarter of
/// it, at most this much), and touched only as deep as the data goes.
const MAX_STACK: u64 = 256 * 1024 * 1024;

/// The program that runs workers: set by the `provisioning` binary when it starts. Unset (in
/// the library's unit tests), evaluation runs in-process, without bounds.
static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Lets evaluations run in workers started from this executable.
pub fn enable() {
    if let Ok(program) = std::env::current_exe() {
        let _ = PROGRAM.set(program);
    }
}

pub fn enabled() -> bool {
    PROGRAM.get().is_some()
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    file: PathBuf,
    import_paths: Vec<PathBuf>,
    /// What `import <name>` reaches ([`super::Packages`]).
    #[serde(default)]
    packages: Packages,
    output: Output,
}

#[derive(Debug, Serialize, Deserialize)]
enum Response {
    /// Followed by `length` bytes of text.
    Exported {
        length: u64,
        library: bool,
        files: Vec<PathBuf>,
    },
    Load {
        message: String,
    },
    Evaluation {
        diagnostic: String,
    },
    Field {
        diagnostic: String,
    },
    Unrepresentable {
        reason: String,
    },
}

/// The worker's side: sets the memory limit, then answers requests from stdin until it closes.
pub fn serve(max_memory_bytes: u64) -> std::io::Result<()> {
    rlimit::setrlimit(rlimit::Resource::AS, max_memory_bytes, max_memory_bytes)?;
    let stack = (max_memory_bytes / 4).min(MAX_STACK);
    let thread = std::thread::Builder::new()
        .name("evaluate".into())
        .stack_size(usize::try_from(stack).unwrap_or(usize::MAX))
        .spawn(answer_requests)?;
    thread
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the evaluation thread panicked")))
}

fn answer_requests() -> std::io::Result<()> {
    let mut engines: HashMap<(Vec<PathBuf>, Packages), Engine> = HashMap::new();
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let request: Request = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        let engine = engines
            .entry((request.import_paths.clone(), request.packages.clone()))
            .or_insert_with(|| Engine::with_packages(&request.import_paths, &request.packages));
        let mut text = String::new();
        let response = match engine.evaluate(&request.file, &request.output) {
            Ok(export) => {
                text = export.text;
                Response::Exported {
                    length: text.len() as u64,
                    library: export.library,
                    files: export.files,
                }
            }
            Err(NickelError::Load { message, .. }) => Response::Load { message },
            Err(NickelError::Evaluation { diagnostic, .. }) => Response::Evaluation { diagnostic },
            Err(NickelError::Field { diagnostic, .. }) => Response::Field { diagnostic },
            Err(NickelError::Unrepresentable { reason, .. }) => {
                Response::Unrepresentable { reason }
            }
            Err(other) => Response::Load {
                message: other.to_string(),
            },
        };
        serde_json::to_writer(&mut stdout, &response).map_err(std::io::Error::other)?;
        stdout.write_all(b"\n")?;
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
    }
    Ok(())
}

/// The parent's side: a running worker, and the lines it answers with.
pub struct Worker {
    child: Child,
    /// Closed on drop: the worker, idle between requests, then ends by itself.
    stdin: Option<ChildStdin>,
    answers: Receiver<Answer>,
    stderr: Arc<Mutex<String>>,
}

impl Worker {
    fn start(bounds: &Bounds) -> std::io::Result<Self> {
        let program = PROGRAM
            .get()
            .ok_or_else(|| std::io::Error::other("no evaluation worker program"))?;
        let mut command = Command::new(program);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::arg0(&mut command, "provisioning");
        let mut child = command
            .args([SUBCOMMAND, "--max-memory-bytes"])
            .arg(bounds.max_memory_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the worker's pipes are missing"));
        };
        // Bounded: a reader that runs ahead of a slow consumer waits, and what is in flight
        // is a few chunks, whatever the size of the export.
        let (sender, answers) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || read_answers(BufReader::new(stdout), &sender));
        let collected = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&collected);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            if let Ok(mut sink) = sink.lock() {
                *sink = text;
            }
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            answers,
            stderr: collected,
        })
    }

    /// Evaluates `file`, handing the text to `sink` as it arrives; the returned [`Export`] has
    /// no text. On a deadline or a death the worker is gone: the caller drops it.
    fn evaluate(
        &mut self,
        file: &Path,
        imports: (&[PathBuf], &Packages),
        output: &Output,
        bounds: &Bounds,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Export, Failure> {
        let (import_paths, packages) = imports;
        let request = Request {
            file: file.to_owned(),
            import_paths: import_paths.to_vec(),
            packages: packages.clone(),
            output: output.clone(),
        };
        let mut line = serde_json::to_string(&request).map_err(|e| Failure::Io(e.to_string()))?;
        line.push('\n');
        let sent = self.stdin.as_mut().is_some_and(|stdin| {
            stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush())
                .is_ok()
        });
        if !sent {
            return Err(self.died());
        }
        let (length, library, files) = match self.receive(bounds)? {
            Answer::Response(Response::Exported {
                length,
                library,
                files,
            }) => (length, library, files),
            Answer::Response(Response::Load { message }) => return Err(Failure::Load(message)),
            Answer::Response(Response::Evaluation { diagnostic }) => {
                return Err(Failure::Evaluation(diagnostic));
            }
            Answer::Response(Response::Field { diagnostic }) => {
                return Err(Failure::Field(diagnostic));
            }
            Answer::Response(Response::Unrepresentable { reason }) => {
                return Err(Failure::Unrepresentable(reason));
            }
            Answer::Unreadable(error) => {
                return Err(Failure::Io(format!("an unreadable answer: {error}")));
            }
            Answer::Chunk(_) | Answer::Ended => return Err(self.died()),
        };
        let mut received = 0;
        while received < length {
            match self.receive(bounds)? {
                Answer::Chunk(chunk) => {
                    received += chunk.len() as u64;
                    sink(&chunk).map_err(Failure::Sink)?;
                }
                _ => {
                    let why = match self.died() {
                        Failure::Io(message) => message,
                        _ => "the evaluation worker ended".to_owned(),
                    };
                    return Err(Failure::Cut {
                        received,
                        length,
                        why,
                    });
                }
            }
        }
        Ok(Export {
            text: String::new(),
            library,
            files,
        })
    }

    /// The next answer, within the deadline (after which the worker is killed).
    fn receive(&mut self, bounds: &Bounds) -> Result<Answer, Failure> {
        match self.answers.recv_timeout(bounds.timeout) {
            Ok(answer) => Ok(answer),
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(Failure::Timeout)
            }
        }
    }

    /// Why the worker ended, from how it exited and what it said. (A worker that could not be
    /// written to may still be alive, waiting for input: it is ended first.)
    fn died(&mut self) -> Failure {
        self.end();
        let status = self.child.wait();
        // The stderr reader finishes when the worker's stderr closes, which it has.
        std::thread::sleep(Duration::from_millis(20));
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        if stderr.contains("memory allocation of") {
            Failure::Memory
        } else if stderr.contains("has overflowed its stack") {
            Failure::Stack
        } else {
            let how = status.map_or_else(|e| e.to_string(), |s| s.to_string());
            Failure::Io(format!(
                "the evaluation worker ended ({how}): {}",
                stderr.trim()
            ))
        }
    }
}

impl Worker {
    /// Closes the worker's stdin, which ends an idle worker; one that does not end promptly is
    /// killed.
    fn end(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.end();
        let _ = self.child.wait();
    }
}

/// What the parent's reader passes on from the worker's stdout.
enum Answer {
    Response(Response),
    /// A piece of an export's text.
    Chunk(Vec<u8>),
    Unreadable(String),
    /// The worker's stdout closed.
    Ended,
}

/// Size of the pieces an export's text is passed on in.
const CHUNK: usize = 64 * 1024;

/// Reads the worker's answers: a header line each, and after an export's header, its text in
/// chunks.
fn read_answers(mut stdout: BufReader<std::process::ChildStdout>, sender: &SyncSender<Answer>) {
    loop {
        let mut line = String::new();
        match stdout.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let response = match serde_json::from_str::<Response>(&line) {
            Ok(response) => response,
            Err(error) => {
                let _ = sender.send(Answer::Unreadable(error.to_string()));
                return;
            }
        };
        let mut remaining = match &response {
            Response::Exported { length, .. } => *length,
            _ => 0,
        };
        if sender.send(Answer::Response(response)).is_err() {
            return;
        }
        while remaining > 0 {
            let size = usize::try_from(remaining).map_or(CHUNK, |left| left.min(CHUNK));
            let mut chunk = vec![0; size];
            if stdout.read_exact(&mut chunk).is_err() {
                let _ = sender.send(Answer::Ended);
                return;
            }
            remaining -= size as u64;
            if sender.send(Answer::Chunk(chunk)).is_err() {
                return;
            }
        }
    }
    let _ = sender.send(Answer::Ended);
}

/// How an evaluation in a worker failed.
enum Failure {
    Load(String),
    Evaluation(String),
    Field(String),
    Unrepresentable(String),
    Timeout,
    Memory,
    Stack,
    Io(String),
    /// The worker ended after `received` of the `length` bytes of its export.
    Cut {
        received: u64,
        length: u64,
        why: String,
    },
    /// Writing the text on failed (stdout closed, say).
    Sink(std::io::Error),
}

/// A worker started on first use and started again after a failure that ended it.
pub struct WorkerSlot {
    worker: Option<Worker>,
}

impl Default for WorkerSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerSlot {
    pub fn new() -> Self {
        Self { worker: None }
    }

    /// Evaluates `file`, the export's text in [`Export::text`].
    pub fn evaluate(
        &mut self,
        file: &Path,
        imports: (&[PathBuf], &Packages),
        output: &Output,
        bounds: &Bounds,
    ) -> Result<Export, NickelError> {
        let mut text = Vec::new();
        let mut export = self.evaluate_into(file, imports, output, bounds, &mut |chunk| {
            text.extend_from_slice(chunk);
            Ok(())
        })?;
        export.text = String::from_utf8(text).map_err(|_| NickelError::Load {
            path: file.to_owned(),
            message: "the evaluation worker answered with text that is not UTF-8".to_owned(),
        })?;
        Ok(export)
    }

    /// Evaluates `file`, handing the export's text to `sink` in chunks as the worker sends it
    /// (the returned [`Export::text`] is empty). Nothing reaches `sink` unless the evaluation
    /// succeeded; a worker that ends mid-text is an error that says how much was passed on.
    pub fn evaluate_into(
        &mut self,
        file: &Path,
        imports: (&[PathBuf], &Packages),
        output: &Output,
        bounds: &Bounds,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Export, NickelError> {
        let path = file.to_owned();
        // Doc tests load the module in a program of their own: in a fresh worker, so the
        // memory of earlier evaluations (a library of thousands of files) is not added to it.
        if output.format == super::Format::Tests {
            self.worker = None;
        }
        let worker = match &mut self.worker {
            Some(worker) => worker,
            None => {
                let started = Worker::start(bounds).map_err(|error| NickelError::Load {
                    path: path.clone(),
                    message: format!("failed to start an evaluation worker: {error}"),
                })?;
                self.worker.insert(started)
            }
        };
        let result = worker.evaluate(file, imports, output, bounds, sink);
        // Doc tests load the module in a program of their own, whose memory a worker would
        // keep (freed, not returned): the worker ends with them, and the next file gets a
        // fresh one.
        if output.format == super::Format::Tests
            || matches!(
                result,
                Err(Failure::Timeout
                    | Failure::Memory
                    | Failure::Stack
                    | Failure::Io(_)
                    | Failure::Cut { .. }
                    | Failure::Sink(_))
            )
        {
            self.worker = None;
        }
        result.map_err(|failure| failure.into_error(path, output, bounds))
    }
}

impl Failure {
    fn into_error(self, path: PathBuf, output: &Output, bounds: &Bounds) -> NickelError {
        match self {
            Failure::Load(message) => NickelError::Load { path, message },
            Failure::Evaluation(diagnostic) => NickelError::Evaluation { path, diagnostic },
            Failure::Field(diagnostic) => NickelError::Field {
                path,
                field: output.field.clone().unwrap_or_default(),
                diagnostic,
            },
            Failure::Unrepresentable(reason) => NickelError::Unrepresentable {
                path,
                field: output.field.clone(),
                format: super::engine::format_name(output.format),
                reason,
            },
            Failure::Timeout => NickelError::Timeout {
                path,
                seconds: bounds.timeout.as_secs(),
            },
            Failure::Memory => NickelError::Memory {
                path,
                mebibytes: bounds.max_memory_bytes / (1024 * 1024),
            },
            Failure::Stack => NickelError::TooDeep { path },
            Failure::Io(message) => NickelError::Load { path, message },
            Failure::Cut {
                received,
                length,
                why,
            } => NickelError::Load {
                path,
                message: format!(
                    "the evaluation worker stopped after sending {received} of the {length} bytes of its export, which is incomplete ({why})"
                ),
            },
            Failure::Sink(error) => NickelError::Output { path, error },
        }
    }
}
