//! Running external commands: echo them, check their exit status, time them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Run `cmd` with inherited stdio after echoing it; fail on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{line}` (is it installed and on PATH?)"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Run `cmd` quietly and return its stdout if it succeeded, `None` otherwise
/// (also when the program does not exist).
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run `cmd` quietly; true if it started and exited with success.
pub fn succeeds(cmd: &mut Command) -> bool {
    output(cmd.stdout(Stdio::null())).is_some()
}

/// Run `cmd` (echoed, inherited stdio) but kill it after `limit`.
/// Returns `None` when it was killed for taking too long.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<Option<ExitStatus>> {
    let line = display(cmd);
    println!("$ {line}    (time limit {}s)", limit.as_secs());
    let mut child = cmd
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Find `program` on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A program from `cargo install`: on PATH, else in `$CARGO_HOME/bin` (`~/.cargo/bin`).
pub fn cargo_bin(program: &str) -> Option<PathBuf> {
    which(program).or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))?;
        let path = cargo_home.join("bin").join(program);
        path.is_file().then_some(path)
    })
}

/// A command as a shell line, with the environment it sets, for echoing.
pub fn display(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            words.push(format!("{}={}", key.to_string_lossy(), quote(value)));
        }
    }
    words.push(quote(cmd.get_program()));
    words.extend(cmd.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `1m02.3s`, `4.5s`: short and readable.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let minutes = (secs / 60.0).floor();
        format!("{minutes:.0}m{:04.1}s", secs - minutes * 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_when_needed() {
        let mut cmd = Command::new("cargo");
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .args(["clippy", "--", "-D", "warnings", "it's"]);
        assert_eq!(
            display(&cmd),
            r"RUSTC_BOOTSTRAP=1 cargo clippy -- -D warnings 'it'\''s'"
        );
    }

    #[test]
    fn timeout_kills_a_hanging_command() {
        let mut sleep = Command::new("sleep");
        sleep.arg("10");
        let started = Instant::now();
        assert!(run_with_timeout(&mut sleep, Duration::from_millis(200))
            .unwrap()
            .is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut quick = Command::new("true");
        assert!(run_with_timeout(&mut quick, Duration::from_secs(5))
            .unwrap()
            .is_some_and(|s| s.success()));
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_millis(4_500)), "4.5s");
        assert_eq!(format_duration(Duration::from_millis(62_300)), "1m02.3s");
    }
}
