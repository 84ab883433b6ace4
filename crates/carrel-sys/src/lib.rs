//! The process-wide settings Carrel makes through libc, each behind a safe
//! function. Every other crate of the workspace forbids unsafe code; the
//! calls that have no safe wrapper in the standard library live here, one
//! per function, each with why it is sound.

/// Files the process creates from now on are readable and writable by
/// their owner only (umask 077): every file Carrel creates (the database,
/// its WAL and shared memory, the audit key and anchors) holds personal
/// data or guards it.
#[allow(unsafe_code)]
pub fn create_files_private() {
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// A write past the file size limit (`ulimit -f`) fails with EFBIG, which
/// SQLite reports and Carrel answers 503, instead of SIGXFSZ killing the
/// process.
#[allow(unsafe_code)]
pub fn survive_file_size_limit() {
    // SAFETY: ignoring SIGXFSZ only changes that signal's disposition.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// A closed pipe ends the process quietly, as Unix tools do (Rust ignores
/// SIGPIPE, so `carrel purge --dry-run | head` would panic on it). Not for
/// the server: a client hanging up must not end it.
#[allow(unsafe_code)]
pub fn end_quietly_on_closed_pipe() {
    // SAFETY: only resets one signal's disposition to its default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Allocations of 1 MiB and more come from mmap and go back to the system
/// when freed. Argon2 takes 19 MiB a hash; glibc's malloc raises its mmap
/// threshold after the first such block is freed, and later ones come from
/// per-thread arenas that keep the memory: a sign-in flood left the server
/// at 230 MiB. Call before any thread starts. Nothing elsewhere than glibc.
#[allow(unsafe_code)]
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, before any thread
    // starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// The process's limit on open files, if it has one.
#[allow(unsafe_code)]
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_the_one_the_shell_reports() {
        let shell = std::process::Command::new("sh")
            .args(["-c", "ulimit -n"])
            .output()
            .unwrap();
        let shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
        match open_file_limit() {
            Some(limit) => assert_eq!(limit.to_string(), shell),
            None => assert_eq!(shell, "unlimited"),
        }
    }

    #[test]
    fn new_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        create_files_private();
        let path = std::env::temp_dir().join(format!("carrel-sys-{}", std::process::id()));
        std::fs::write(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
