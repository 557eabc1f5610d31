//! Progress on stderr: a bar redrawn in place on a terminal, a line every few seconds
//! otherwise (CI logs, files).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    terminal: bool,
    every: Duration,
    last: Option<Instant>,
    drawn: bool,
}

const WIDTH: usize = 30;

impl Progress {
    pub fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            terminal,
            every: if terminal {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(10)
            },
            last: None,
            drawn: false,
        }
    }

    /// `done` of `total`, then what else to say; drawn when it is time to, and always when
    /// it is the `last` word.
    pub fn show(&mut self, done: usize, total: usize, what: &str, rest: &str, last: bool) {
        let now = Instant::now();
        if !last
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < self.every)
        {
            return;
        }
        self.last = Some(now);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = (done * WIDTH)
                .checked_div(total)
                .unwrap_or(WIDTH)
                .min(WIDTH);
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {done}/{total} {what} · {rest}",
                "#".repeat(filled),
                "-".repeat(WIDTH - filled)
            );
            self.drawn = true;
        } else {
            let _ = writeln!(err, "loadtest: {done}/{total} {what} · {rest}");
        }
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}
