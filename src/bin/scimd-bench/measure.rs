//! What the bench measures beside latencies, read from `/proc`: CPU time of the server, of
//! the bench itself and of the database; the server's memory; the size of a SQLite database's
//! directory.

/// CPU time of every PostgreSQL server process on this machine, in µs (0 when none runs):
/// with PostgreSQL the database's own work is a third party beside server and client.
fn postgres_cpu_micros() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().to_string();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres")
                .then(|| cpu_micros(&pid))
                .flatten()
        })
        .sum()
}

/// CPU time of the server's SQLite writer and checkpointer threads, in µs: the part of a
/// write that runs one at a time, so it bounds SQLite's write rate (it is included in the
/// server's figure too).
fn sqlite_writer_cpu_micros(server_pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{server_pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| {
            let tid = t.file_name().to_string_lossy().to_string();
            let comm =
                std::fs::read_to_string(format!("/proc/{server_pid}/task/{tid}/comm")).ok()?;
            comm.starts_with("scimd-sqlite")
                .then(|| cpu_micros(&format!("{server_pid}/task/{tid}")))
                .flatten()
        })
        .sum()
}

/// The database's CPU time in µs: PostgreSQL's processes, or SQLite's serial threads.
pub(crate) fn database_cpu_micros(backend: &str, server_pid: &str) -> u64 {
    if backend == "postgres" {
        postgres_cpu_micros()
    } else {
        sqlite_writer_cpu_micros(server_pid)
    }
}

/// CPU time (user + system) a process has used, in µs, from `/proc/{pid}/stat`.
pub(crate) fn cpu_micros(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports USER_HZ (100) ticks per second.
    Some(ticks * 10_000)
}

/// The `p` quantile (0 to 1) of sorted latencies in µs, in ms.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted.get(idx.min(sorted.len() - 1)).copied().unwrap_or(0)) / 1000.0
}

/// A `/proc/{pid}/status` field in KiB (VmRSS, RssAnon, RssFile).
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Bytes of the files in a directory (a SQLite database with its WAL and shared memory).
pub(crate) fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
