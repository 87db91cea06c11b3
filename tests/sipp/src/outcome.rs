//! What a finished sipp run did, read from its exit status and trace files.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitStatus;

use crate::digest;

/// How much of the SIP message trace a failure report shows (its end).
const MESSAGES_TAIL: usize = 24_000;

/// The result of one sipp run.
///
/// sipp's exit codes: 0 every call succeeded, 1 at least one failed,
/// 97 stopped by an internal command, 99 normal exit without calls,
/// 255 fatal error (also the `-timeout_error` timeout), 254 socket bind
/// error. A run killed by a signal reports 128 + the signal number.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command line, for reports.
    pub command: String,
    pub exit_code: i32,
    /// True when the runner had to kill sipp past its timeout.
    pub killed: bool,
    /// Cumulative "Successful call" count of the final statistics.
    pub successful_calls: u64,
    /// Cumulative "Failed call" count of the final statistics.
    pub failed_calls: u64,
    /// `-trace_err`: unexpected messages and errors.
    pub error_log: String,
    /// `-trace_screen`: the final scenario, statistics and repartition
    /// screens.
    pub screen: String,
    /// sipp's standard error (start-up and fatal errors).
    pub stderr: String,
    /// `-trace_msg`: every SIP message sent and received.
    pub messages: String,
    /// `-trace_logs`: the lines written by the scenario's `<log>` actions.
    pub logs: String,
}

impl Outcome {
    pub(crate) fn collect(
        dir: &Path,
        command: String,
        status: ExitStatus,
        killed: bool,
    ) -> Outcome {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        };
        let screen = read("screen.log");
        let stat = read("stat.csv");
        let (successful_calls, failed_calls) = counts_from_stat(&stat)
            .or_else(|| counts_from_screen(&screen))
            .unwrap_or((0, 0));
        Outcome {
            command,
            exit_code: exit_code(status),
            killed,
            successful_calls,
            failed_calls,
            error_log: read("errors.log"),
            screen,
            stderr: read("stderr.log"),
            messages: read("messages.log"),
            logs: read("logs.log"),
        }
    }

    /// sipp exited 0 by itself and counted no failed call.
    pub fn is_ok(&self) -> bool {
        self.exit_code == 0 && self.failed_calls == 0 && !self.killed
    }

    /// Panics with the run's report unless [`Outcome::is_ok`].
    #[track_caller]
    pub fn assert_ok(&self) {
        if !self.is_ok() {
            panic!("sipp run failed\n{}", self.report());
        }
    }

    /// Panics with the run's report unless sipp finished by itself with
    /// exactly these counts (for runs where failed calls are the point).
    #[track_caller]
    pub fn assert_counts(&self, successful: u64, failed: u64) {
        if self.killed || self.successful_calls != successful || self.failed_calls != failed {
            panic!(
                "expected {successful} successful and {failed} failed calls, got {} and {}\n{}",
                self.successful_calls,
                self.failed_calls,
                self.report()
            );
        }
    }

    /// Values of the `header` lines the scenario logged (e.g. the
    /// `Proxy-Authorization` that `carrier_uas_challenge` writes).
    pub fn logged_headers(&self, header: &str) -> Vec<&str> {
        self.logs
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case(header)
                    .then_some(value.trim())
            })
            .collect()
    }

    /// Checks every logged `header` (`Authorization` or
    /// `Proxy-Authorization`) as MD5 digest credentials of `user` with
    /// `password` for `method`; panics when none was logged or one is wrong.
    #[track_caller]
    pub fn assert_digest(&self, header: &str, method: &str, user: &str, password: &str) {
        let values = self.logged_headers(header);
        if values.is_empty() {
            panic!("no {header} header was logged\n{}", self.report());
        }
        for value in values {
            if let Err(why) = digest::verify(value, method, user, password) {
                panic!("{header}: {value}\nis not valid: {why}\n{}", self.report());
            }
        }
    }

    /// Everything known about the run, for failure messages.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "command: {}", self.command);
        let _ = writeln!(
            out,
            "exit code: {}{}; successful calls: {}; failed calls: {}",
            self.exit_code,
            if self.killed {
                " (killed past its timeout)"
            } else {
                ""
            },
            self.successful_calls,
            self.failed_calls
        );
        for (title, text) in [
            ("stderr", self.stderr.as_str()),
            ("error log", self.error_log.as_str()),
            ("log actions", self.logs.as_str()),
            ("final screens", self.screen.as_str()),
        ] {
            if !text.trim().is_empty() {
                let _ = writeln!(out, "----- {title} -----\n{}", text.trim_end());
            }
        }
        if !self.messages.is_empty() {
            let tail = tail(&self.messages, MESSAGES_TAIL);
            let cut = if tail.len() < self.messages.len() {
                " (end)"
            } else {
                ""
            };
            let _ = writeln!(out, "----- SIP messages{cut} -----\n{}", tail.trim_end());
        }
        out
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    -1
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Cumulative successful/failed call counts from the last row of the
/// `-trace_stat` CSV (`;`-separated, header row first).
fn counts_from_stat(csv: &str) -> Option<(u64, u64)> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    let column = |name: &str| -> Option<u64> {
        let i = header.iter().position(|h| h.trim() == name)?;
        last.get(i)?.trim().parse().ok()
    };
    Some((column("SuccessfulCall(C)")?, column("FailedCall(C)")?))
}

/// The same counts from the statistics screen:
/// `  Successful call        |        0                  |        3`.
fn counts_from_screen(screen: &str) -> Option<(u64, u64)> {
    let cumulative = |label: &str| -> Option<u64> {
        let line = screen
            .lines()
            .rfind(|l| l.trim_start().starts_with(label))?;
        line.split('|').nth(2)?.trim().parse().ok()
    };
    Some((cumulative("Successful call")?, cumulative("Failed call")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_the_stat_csv_last_row() {
        let csv = "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);\n\
                   t0;1;1;0;0;\n\
                   t1;2;3;1;2;\n";
        assert_eq!(counts_from_stat(csv), Some((3, 2)));
        assert_eq!(counts_from_stat("StartTime;\n"), None);
    }

    #[test]
    fn counts_from_the_statistics_screen() {
        let screen = "\
  Successful call        |        0                  |        7                 \n\
  Failed call            |        1                  |        2                 \n";
        assert_eq!(counts_from_screen(screen), Some((7, 2)));
        assert_eq!(counts_from_screen("nothing"), None);
    }

    #[test]
    fn logged_headers_by_name() {
        let outcome = Outcome {
            command: String::new(),
            exit_code: 0,
            killed: false,
            successful_calls: 1,
            failed_calls: 0,
            error_log: String::new(),
            screen: String::new(),
            stderr: String::new(),
            messages: String::new(),
            logs: "Proxy-Authorization: Digest a=1\nfinal status 486\nAuthorization: Digest b\n"
                .into(),
        };
        assert_eq!(
            outcome.logged_headers("proxy-authorization"),
            ["Digest a=1"]
        );
        assert_eq!(outcome.logged_headers("Authorization"), ["Digest b"]);
        assert!(outcome.is_ok());
    }

    #[test]
    fn tail_respects_char_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}
