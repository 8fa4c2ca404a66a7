//! Progress of a command-line job on the terminal: a spinner with the current step and the time
//! elapsed when stderr is a terminal, plain lines when it is piped (CI logs, `2> file`).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crashloom::investigate::pipeline::{Progress, STEPS};
use indicatif::{ProgressBar, ProgressStyle};

/// Reports the agents' steps of an investigation on stderr.
pub struct TerminalProgress {
    spinner: Option<ProgressBar>,
    started: Instant,
    last: Mutex<Option<String>>,
}

impl TerminalProgress {
    /// A spinner on a terminal, plain lines otherwise.
    pub fn new(title: &str) -> Self {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let spinner = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            spinner.set_style(style);
            spinner.set_message(title.to_owned());
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        if spinner.is_none() {
            eprintln_plain(title);
        }
        TerminalProgress { spinner, started: Instant::now(), last: Mutex::new(None) }
    }

    /// Clears the spinner, leaving one line that says how long the job took.
    pub fn finish(&self, outcome: &str) {
        let line = format!("{outcome} in {:.1} s", self.started.elapsed().as_secs_f64());
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
        eprintln_plain(&line);
    }
}

impl Progress for TerminalProgress {
    fn step(&self, index: usize, message: &str) {
        let line = format!("[{}/{}] {}: {message}", index + 1, STEPS.len(), STEPS.get(index).unwrap_or(&"step"));
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_deref() == Some(line.as_str()) {
            return;
        }
        *last = Some(line.clone());
        match &self.spinner {
            Some(spinner) => spinner.set_message(line),
            None => eprintln_plain(&format!("{:>6.1}s {line}", self.started.elapsed().as_secs_f64())),
        }
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A line on stderr; a closed stderr loses the line, never the job.
fn eprintln_plain(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
