//! Files outside the database that hold personal data or guard it (the
//! database itself, its WAL and shared memory, the audit key, the audit
//! anchors, the server lock): created readable and writable by their owner
//! only, and a warning when an existing one is not.

use std::path::Path;

/// Options that create a file with mode 0600 (on Unix), whatever the
/// process's umask; the caller sets how it is opened.
pub fn options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Logs a warning when `path` exists and other users of the machine can
/// read it; `what` says what it holds.
pub fn warn_if_readable_by_others(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = %format!("{mode:o}"),
                "{what} can be read by other users of this machine: run `chmod 600` on it (Carrel creates its files readable by their owner only)"
            );
        }
    }
}
