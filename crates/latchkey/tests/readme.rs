//! README.md runs as a test: the shell examples a newcomer copies do what
//! the README says they do, and a README that drifts from the program fails.
//!
//! Every ```` ```sh ```` block of README.md runs, in order, in one
//! `bash -euo pipefail` (so `$APP` set in one block is there in the next),
//! against a fresh server on each backend. The only opt-out is a fence that
//! reads ```` ```sh no-test ````, for what cannot run here: building and
//! serving with cargo, the whole test suite, a deployment. Other shell fence
//! names (`bash`, `shell`, …) are refused, so no example escapes by accident.
//!
//! The script runs in a fresh temporary directory, with `HOME` another one,
//! the built `latchkey` first on `PATH`, `LATCHKEY_DATABASE` set to the test
//! server's database (so `latchkey admin-token` reaches that server's
//! database, as it does when run in the server's folder), and every
//! `http://127.0.0.1:8080` in the README replaced by the test server's base
//! URL.
//!
//! A comment line `# → <output>` right after a command (one logical line,
//! `\` continuations joined; several `# →` lines in a row for several lines
//! of output) says what the command prints. That command's standard output
//! is captured and compared by shape. When the expectation parses as JSON:
//! the same object keys, the same array lengths, the same types, and equal
//! values, except that a string written `…` stands for any string and one
//! ending in `…` for any string with that prefix. Otherwise as text, line by
//! line (trailing spaces ignored), where `…` matches any run of characters.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{each_server, Server};
use serde_json::Value;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");
/// The address the README's examples use: the server's default.
const README_URL: &str = "http://127.0.0.1:8080";
/// The fence option that keeps a ```` ```sh ```` block from running.
const NO_TEST: &str = "no-test";
const EXPECTATION: &str = "# →";
/// In an expectation: any run of characters.
const ANYTHING: char = '…';
/// Fewer run blocks than this means examples were switched off wholesale.
const MIN_RUN_BLOCKS: usize = 3;
/// How long the whole script may run (the harness allows 120 s per backend).
const SCRIPT_LIMIT: Duration = Duration::from_secs(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_examples_run_and_print_what_the_readme_says() {
    let readme = fs::read_to_string(README).expect("README.md is readable");
    let blocks = run_blocks(&readme);
    assert!(
        blocks.len() >= MIN_RUN_BLOCKS,
        "README.md has {} ```sh blocks that run; at least {MIN_RUN_BLOCKS} are expected",
        blocks.len()
    );
    each_server(|server| {
        let blocks = &blocks;
        async move { run_readme(blocks, &server) }
    })
    .await;
}

/// A line of README.md: its number (from 1) and its text.
struct Line {
    number: usize,
    text: String,
}

/// A ```` ```sh ```` block that runs.
struct Block {
    fence_line: usize,
    lines: Vec<Line>,
}

/// The ```` ```sh ```` blocks of `readme` that run, in order; panics on a
/// shell fence this test does not know.
fn run_blocks(readme: &str) -> Vec<Block> {
    let mut lines = readme.lines().enumerate().map(|(index, text)| Line {
        number: index + 1,
        text: text.to_string(),
    });
    let mut blocks = Vec::new();
    while let Some(fence) = lines.next() {
        let Some(info) = fence.text.strip_prefix("```") else {
            continue;
        };
        let body: Vec<Line> = lines
            .by_ref()
            .take_while(|line| !line.text.starts_with("```"))
            .collect();
        let mut words = info.split_whitespace();
        match (words.next(), words.collect::<Vec<_>>().as_slice()) {
            (Some("sh"), []) => blocks.push(Block {
                fence_line: fence.number,
                lines: body,
            }),
            (Some("sh"), [NO_TEST]) => {}
            (Some("sh" | "bash" | "shell" | "console" | "zsh"), _) => panic!(
                "README.md line {}: {:?}: a shell example is ```sh (run by tests/readme.rs) or ```sh {NO_TEST}",
                fence.number, fence.text
            ),
            _ => {}
        }
    }
    blocks
}

/// What one command is expected to print.
struct Expectation {
    /// The README line of the command (its first line).
    command_line: usize,
    /// The README line of the first `# →`.
    line: usize,
    expected: String,
    /// Where the script writes the command's standard output.
    output: PathBuf,
}

/// The bash script made of the run blocks.
struct Script {
    lines: Vec<String>,
    /// For each script line, the README line it comes from (0: the harness's).
    origins: Vec<usize>,
    expectations: Vec<Expectation>,
}

impl Script {
    fn push(&mut self, origin: usize, line: String) {
        self.lines.push(line);
        self.origins.push(origin);
    }

    /// The README line of a script line (numbered from 1, as `$LINENO`).
    fn origin(&self, script_line: usize) -> Option<usize> {
        self.origins
            .get(script_line.checked_sub(1)?)
            .copied()
            .filter(|&line| line > 0)
    }
}

fn is_expectation(line: &Line) -> bool {
    line.text.trim_start().starts_with(EXPECTATION)
}

/// The blocks as one script, with `base_url` for [`README_URL`]. Files the
/// script writes go to `state`: `failed` (the `$LINENO` of a failing
/// command), `block` (the fence line of the block running), and one output
/// file per expectation.
fn script(blocks: &[Block], base_url: &str, state: &Path) -> Script {
    let mut script = Script {
        lines: Vec::new(),
        origins: Vec::new(),
        expectations: Vec::new(),
    };
    let failed = state.join("failed");
    script.push(0, format!("trap 'echo \"$LINENO\" >> \"{}\"' ERR", failed.display()));
    for block in blocks {
        script.push(
            block.fence_line,
            format!("echo {} > \"{}\"", block.fence_line, state.join("block").display()),
        );
        let lines: Vec<Line> = block
            .lines
            .iter()
            .map(|line| Line {
                number: line.number,
                text: line.text.replace(README_URL, base_url),
            })
            .collect();
        let mut next = 0;
        while next < lines.len() {
            let first = &lines[next];
            assert!(
                !is_expectation(first),
                "README.md line {}: a `{EXPECTATION}` line must directly follow the command whose output it shows",
                first.number
            );
            // One logical line: `\` continuations joined.
            let mut end = next + 1;
            while lines[end - 1].text.ends_with('\\') && end < lines.len() {
                end += 1;
            }
            let command = &lines[next..end];
            let expected: Vec<&Line> = lines[end..].iter().take_while(|line| is_expectation(line)).collect();
            next = end + expected.len();
            if expected.is_empty() {
                for line in command {
                    script.push(line.number, line.text.clone());
                }
                continue;
            }
            let output = state.join(format!("output-{}", script.expectations.len()));
            script.push(first.number, "{".to_string());
            for line in command {
                script.push(line.number, line.text.clone());
            }
            script.push(first.number, format!("}} > \"{}\"", output.display()));
            script.expectations.push(Expectation {
                command_line: first.number,
                line: expected[0].number,
                expected: expected
                    .iter()
                    .map(|line| {
                        let shown = line.text.trim_start().strip_prefix(EXPECTATION).unwrap_or_default();
                        shown.strip_prefix(' ').unwrap_or(shown)
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                output,
            });
        }
    }
    script
}

/// Runs the README's blocks against `server`; panics with every difference
/// between what the README says and what happened.
fn run_readme(blocks: &[Block], server: &Server) {
    let state = tempfile::tempdir().expect("a temporary directory");
    let work = tempfile::tempdir().expect("a temporary directory");
    let home = tempfile::tempdir().expect("a temporary directory");
    let script = script(blocks, &server.api.base, state.path());
    let script_path = state.path().join("readme.sh");
    fs::write(&script_path, script.lines.join("\n") + "\n").expect("writing the script");
    let status = run_bash(
        &script_path,
        work.path(),
        home.path(),
        &server.database_url,
        state.path(),
    );
    let read = |name: &str| fs::read_to_string(state.path().join(name)).unwrap_or_default();
    // The README line of the command that failed, when one did.
    let failed_line = read("failed")
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .and_then(|line| script.origin(line));

    let mut problems = Vec::new();
    for expectation in &script.expectations {
        // A command that failed is reported below; what it printed is moot.
        if failed_line.is_some_and(|line| (expectation.command_line..expectation.line).contains(&line)) {
            continue;
        }
        let Ok(actual) = fs::read_to_string(&expectation.output) else {
            if status.success() {
                problems.push(format!(
                    "README.md line {}: the command never ran",
                    expectation.command_line
                ));
            }
            continue;
        };
        if let Err(why) = same_output(&expectation.expected, &actual) {
            problems.push(format!(
                "README.md line {}: the command at line {} printed something else: {why}\n\
                 --- expected\n{}\n--- actual\n{}",
                expectation.line,
                expectation.command_line,
                expectation.expected,
                actual.trim_end()
            ));
        }
    }
    if !status.success() {
        let block = read("block").trim().to_string();
        let place = match failed_line {
            Some(line) => format!("README.md line {line} (in the block at line {block})"),
            None => format!("the block at README.md line {block}"),
        };
        problems.push(format!(
            "{place} failed ({status}); its stderr:\n{}",
            read("stderr").trim_end()
        ));
    }
    assert!(
        problems.is_empty(),
        "the README's examples do not do what it says:\n\n{}",
        problems.join("\n\n")
    );
}

/// Runs `bash -euo pipefail script` in `work`, its outputs in `state`
/// (`stdout`, `stderr`); kills it and everything it started when it takes
/// longer than [`SCRIPT_LIMIT`], and what it left running (a server started
/// in the background by a block that then failed) when it ends.
fn run_bash(script: &Path, work: &Path, home: &Path, database_url: &str, state: &Path) -> ExitStatus {
    let binary_dir = Path::new(BINARY).parent().expect("the binary is in a directory");
    let path = std::env::join_paths(
        std::iter::once(binary_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("a PATH");
    let output = |name: &str| fs::File::create(state.join(name)).expect("an output file");
    let mut command = Command::new("bash");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["-euo", "pipefail"])
        .arg(script)
        .current_dir(work)
        .env("PATH", path)
        .env("HOME", home)
        .env("LATCHKEY_DATABASE", database_url)
        // curl and the CLI must reach loopback directly, whatever proxy is set.
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .stdin(Stdio::null())
        .stdout(output("stdout"))
        .stderr(output("stderr"))
        // Its own process group, so a timeout kills the commands it started too.
        .process_group(0)
        .spawn()
        .expect("bash starts");
    let group = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) with a valid signal number has no memory effects.
    let kill_group = || unsafe { libc::kill(-group, libc::SIGKILL) };
    let deadline = Instant::now() + SCRIPT_LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for bash") {
            kill_group();
            return status;
        }
        if Instant::now() > deadline {
            kill_group();
            let _ = child.wait();
            let block = fs::read_to_string(state.join("block")).unwrap_or_default();
            panic!(
                "the README's examples did not finish within {SCRIPT_LIMIT:?} (in the block at README.md line {})",
                block.trim()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `actual` has the shape `expected` describes (see the module's
/// documentation); the first difference when it does not.
fn same_output(expected: &str, actual: &str) -> Result<(), String> {
    match serde_json::from_str::<Value>(expected) {
        Ok(expected) => {
            let actual: Value = serde_json::from_str(actual)
                .map_err(|error| format!("the README shows JSON, this is not ({error})"))?;
            same_shape(&expected, &actual, "$")
        }
        Err(_) => same_text(expected, actual),
    }
}

fn same_shape(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(pattern), Value::String(text)) => {
            let fits = match pattern.strip_suffix(ANYTHING) {
                Some(prefix) => text.starts_with(prefix),
                None => pattern == text,
            };
            fits.then_some(())
                .ok_or_else(|| format!("at {at}: {text:?} where the README shows {pattern:?}"))
        }
        (Value::Object(expected), Value::Object(actual)) => {
            let missing: Vec<&String> = expected.keys().filter(|key| !actual.contains_key(*key)).collect();
            let unshown: Vec<&String> = actual.keys().filter(|key| !expected.contains_key(*key)).collect();
            if !missing.is_empty() || !unshown.is_empty() {
                return Err(format!(
                    "at {at}: keys the README shows but the output lacks: {missing:?}; keys the README does not show: {unshown:?}"
                ));
            }
            expected
                .iter()
                .try_for_each(|(key, value)| same_shape(value, &actual[key], &format!("{at}.{key}")))
        }
        (Value::Array(expected), Value::Array(actual)) => {
            if expected.len() != actual.len() {
                return Err(format!(
                    "at {at}: {} items where the README shows {}",
                    actual.len(),
                    expected.len()
                ));
            }
            expected
                .iter()
                .zip(actual)
                .enumerate()
                .try_for_each(|(index, (expected, actual))| same_shape(expected, actual, &format!("{at}[{index}]")))
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("at {at}: {actual} where the README shows {expected}")),
    }
}

fn same_text(expected: &str, actual: &str) -> Result<(), String> {
    let expected: Vec<&str> = expected.lines().map(str::trim_end).collect();
    let actual: Vec<&str> = actual.trim_end_matches('\n').lines().map(str::trim_end).collect();
    if expected.len() != actual.len() {
        return Err(format!(
            "{} lines where the README shows {}",
            actual.len(),
            expected.len()
        ));
    }
    match expected
        .iter()
        .zip(&actual)
        .position(|(pattern, text)| !matches_text(pattern, text))
    {
        Some(index) => Err(format!(
            "output line {}: {:?} where the README shows {:?}",
            index + 1,
            actual[index],
            expected[index]
        )),
        None => Ok(()),
    }
}

/// Whether `text` matches `pattern`, where [`ANYTHING`] matches any run of
/// characters and everything else itself.
fn matches_text(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split(ANYTHING);
    let Some(mut rest) = text.strip_prefix(parts.next().unwrap_or_default()) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[test]
fn expectations_compare_shapes() {
    let json = r#"{"id": "…", "token": "eyJ…", "scope": ["a"], "count": 1}"#;
    assert!(same_output(json, r#"{"id": "5f1", "token": "eyJhb", "scope": ["a"], "count": 1}"#).is_ok());
    assert!(same_output(json, r#"{"id": "5f1", "token": "abc", "scope": ["a"], "count": 1}"#).is_err());
    assert!(same_output(
        json,
        r#"{"id": "5f1", "token": "eyJ", "scope": ["a", "b"], "count": 1}"#
    )
    .is_err());
    assert!(same_output(json, r#"{"id": 5, "token": "eyJ", "scope": ["a"], "count": 1}"#).is_err());
    assert!(same_output(
        json,
        r#"{"id": "5", "token": "eyJ", "scope": ["a"], "count": 1, "more": 0}"#
    )
    .is_err());
    assert!(same_output("ID  NAME\n…  ingest…", "ID  NAME\n5f1  ingest 2  \n").is_ok());
    assert!(same_output("ID  NAME\n…  ingest", "ID  NAME\n5f1  other").is_err());
    assert!(same_output("one line", "one line\nand another").is_err());
}
