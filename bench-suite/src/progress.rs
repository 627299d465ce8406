//! Where a run is, for a person at a terminal and for a CI log alike.
//!
//! In a terminal: a bar with done/total, elapsed time, an estimate of the time left and
//! the case running now. Anywhere else (stderr piped to a file or a CI log): one plain line
//! per finished case, and a `still running` line every [`HEARTBEAT`] while one case takes
//! longer, so a log shows where a run is and where it hung.
//!
//! ```text
//! [  12/228   0:42, ~3:10 left] passed       cpu:0 gemm/tiled/f32/m=1024,n=1024,k=1024  14.6 ms, 0.4 GB/s, 0.1471 TFLOP/s (0.9 s)
//! [  13/228   0:52] still running  opencl:0 gemm/naive/f32/m=1024,n=1024,k=1024 (10 s)
//! ```

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::human_time;
use crate::results::CaseResult;

/// How often a log hears about a case that is still running.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How progress is shown: [`Mode::detect`] picks the bar for a terminal, lines otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Lines,
    Off,
}

impl Mode {
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// What the line printer knows: counts, and the case running now.
struct State {
    total: usize,
    done: usize,
    started: Instant,
    current: Option<(String, Instant)>,
    /// When the last line was printed, so the heartbeat stays quiet while lines flow.
    last_line: Instant,
}

impl State {
    fn prefix(&self, with_estimate: bool) -> String {
        let elapsed = self.started.elapsed();
        let mut s = format!("[{:>4}/{} {:>6}", self.done, self.total, clock(elapsed));
        if with_estimate && self.done > 0 && self.done < self.total {
            let left = elapsed.mul_f64((self.total - self.done) as f64 / self.done as f64);
            s.push_str(&format!(", ~{} left", clock(left)));
        }
        s.push(']');
        s
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The one-line summary of a finished case: its time and headline rate.
fn summary(r: &CaseResult) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &r.timing {
        parts.push(human_time(t.median_s));
    }
    if let Some(m) = &r.metrics {
        if let Some(us) = m.us_per_launch {
            parts.push(format!("{} /launch", human_time(us * 1e-6)));
        }
        if let Some(g) = m.gbs {
            parts.push(format!("{g:.1} GB/s"));
        }
        if let Some(t) = m.tflops.filter(|&t| t > 0.0) {
            parts.push(format!("{t:.4} TFLOP/s"));
        }
    }
    if parts.is_empty() {
        if let Some(reason) = &r.reason {
            let first = reason.lines().next().unwrap_or_default();
            parts.push(first.chars().take(100).collect());
        }
    }
    parts.join(", ")
}

/// Progress of one run. Call [`Progress::start`] before each case and
/// [`Progress::finish`] after it; [`Progress::close`] (or drop) ends it.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: Option<Arc<Mutex<State>>>,
    /// Dropping it stops the heartbeat thread.
    stop: Option<Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn new(total: usize, mode: Mode) -> Self {
        let mut p = Progress {
            bar: None,
            lines: None,
            stop: None,
            heartbeat: None,
        };
        match mode {
            Mode::Off => {}
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {pos}/{len} {elapsed_precise}, ~{eta} left  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                p.bar = Some(bar);
            }
            Mode::Lines => {
                let now = Instant::now();
                let state = Arc::new(Mutex::new(State {
                    total,
                    done: 0,
                    started: now,
                    current: None,
                    last_line: now,
                }));
                let (stop, stopped) = mpsc::channel::<()>();
                let watched = state.clone();
                p.heartbeat = Some(std::thread::spawn(move || loop {
                    match stopped.recv_timeout(Duration::from_millis(500)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let Ok(mut s) = watched.lock() else { return };
                    let Some((case, since)) = s.current.clone() else {
                        continue;
                    };
                    if s.last_line.elapsed() >= HEARTBEAT && since.elapsed() >= HEARTBEAT {
                        eprintln!(
                            "{} still running  {case} ({} s)",
                            s.prefix(false),
                            since.elapsed().as_secs()
                        );
                        s.last_line = Instant::now();
                    }
                }));
                p.stop = Some(stop);
                p.lines = Some(state);
            }
        }
        p
    }

    /// `case` is starting (`cpu:0 gemm/tiled/f32/...`).
    pub fn start(&self, case: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(case.clone());
        }
        if let Some(Ok(mut s)) = self.lines.as_ref().map(|l| l.lock()) {
            s.current = Some((case, Instant::now()));
        }
    }

    /// The case started last has finished with `result`.
    pub fn finish(&self, result: &CaseResult) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(Ok(mut s)) = self.lines.as_ref().map(|l| l.lock()) {
            s.done += 1;
            let (case, since) = s
                .current
                .take()
                .unwrap_or_else(|| (result.device.clone(), Instant::now()));
            eprintln!(
                "{} {:<12} {case}  {} ({:.1} s)",
                s.prefix(true),
                result.status.name(),
                summary(result),
                since.elapsed().as_secs_f64()
            );
            s.last_line = Instant::now();
        }
    }

    /// Clears the bar and stops the heartbeat.
    pub fn close(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.stop.take();
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("bar", &self.bar.is_some())
            .field("lines", &self.lines.is_some())
            .finish()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_minutes_and_hours() {
        assert_eq!(clock(Duration::from_secs(42)), "0:42");
        assert_eq!(clock(Duration::from_secs(190)), "3:10");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }

    #[test]
    fn the_estimate_scales_elapsed_by_what_is_left() {
        let s = State {
            total: 4,
            done: 1,
            started: Instant::now().checked_sub(Duration::from_secs(30)).unwrap(),
            current: None,
            last_line: Instant::now(),
        };
        let p = s.prefix(true);
        assert!(p.starts_with("[   1/4   0:30"), "{p}");
        assert!(p.contains("~1:30 left"), "{p}");
    }
}
