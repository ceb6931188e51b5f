//! Command probe: run an argv with a timeout; observe its exit code, stdout and a number on it.

use std::time::{Duration, Instant};

use tokio::process::Command;

use super::observation::Observation;

/// Stdout beyond this is cut.
const MAX_STDOUT: usize = 64 * 1024;

/// Runs `argv` (no shell), kills it at `timeout`. The value is stdout if it is a number.
pub async fn observe_command(argv: &[String], timeout: Duration) -> Observation {
    let Some((program, args)) = argv.split_first() else {
        return Observation::failed("the command is empty".to_string());
    };
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return Observation::failed(format!("cannot start `{program}`: {e}")),
    };
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Observation::failed(format!("`{program}` failed: {e}")),
        Err(_) => {
            return Observation::failed(format!(
                "`{program}` did not finish within {} and was killed",
                humantime::format_duration(timeout)
            ));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout[..output.stdout.len().min(MAX_STDOUT)]).into_owned();
    Observation {
        value: stdout.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        exit: output.status.code(),
        latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        body: Some(stdout),
        error: output.status.code().is_none().then(|| format!("`{program}` was killed by a signal")),
        ..Observation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn reads_exit_code_and_number() {
        let obs = observe_command(&argv(&["sh", "-c", "echo 42.5; exit 3"]), Duration::from_secs(5)).await;
        assert_eq!(obs.exit, Some(3));
        assert_eq!(obs.value, Some(42.5));
        assert!(obs.error.is_none());
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_at_its_timeout() {
        let started = Instant::now();
        let obs = observe_command(&argv(&["sleep", "5"]), Duration::from_millis(200)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(obs.error.unwrap().contains("did not finish"));
    }

    #[tokio::test]
    async fn a_missing_program_is_an_error_not_a_panic() {
        let obs = observe_command(&argv(&["/nonexistent/probe"]), Duration::from_secs(1)).await;
        assert!(obs.error.unwrap().contains("cannot start"));
    }
}
