//! The naming rule for `ipc://*`. Creating the directory is the transport's job; this module
//! only says where it goes and what the socket file inside it is called.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{EndpointError, SocketPath};

/// Environment variables consulted, in order, for the wildcard's base directory.
pub const WILDCARD_ENV_VARS: [&str; 3] = ["TMPDIR", "TEMPDIR", "TMP"];

/// The base directory when none of [`WILDCARD_ENV_VARS`] holds an absolute path.
pub const WILDCARD_FALLBACK_DIR: &str = "/tmp";

/// Prefix of the private directory's name; the transport appends random characters
/// (libzmq's `mkdtemp` template is `tmpXXXXXX`, giving `/tmp/tmpAbC123/socket`).
pub const WILDCARD_DIR_PREFIX: &str = "tmp";

/// Name of the socket file inside the private directory.
pub const WILDCARD_SOCKET_FILE: &str = "socket";

/// The directory under which a wildcard bind makes its private directory, with the
/// environment read through `lookup`: the first of `TMPDIR`, `TEMPDIR`, `TMP` that is set to an
/// absolute path, else `/tmp`.
///
/// The result is always absolute, so it never depends on the working directory (libzmq falls
/// back to the working directory). An empty or relative value is skipped rather than resolved,
/// which keeps this function free of IO. Whether the directory exists is for the transport to
/// find out when it creates the private directory.
///
/// ```
/// use std::path::Path;
/// use ipc_endpoint::wildcard_base_dir_with;
/// let dir = wildcard_base_dir_with(|var| (var == "TMP").then(|| "/var/tmp".into()));
/// assert_eq!(dir, Path::new("/var/tmp"));
/// ```
pub fn wildcard_base_dir_with(mut lookup: impl FnMut(&str) -> Option<OsString>) -> PathBuf {
    WILDCARD_ENV_VARS
        .iter()
        .filter_map(|var| lookup(var))
        .map(PathBuf::from)
        .find(|dir| dir.is_absolute())
        .unwrap_or_else(|| PathBuf::from(WILDCARD_FALLBACK_DIR))
}

/// [`wildcard_base_dir_with`] reading this process's environment. Reading the environment is
/// the only IO this crate does.
pub fn wildcard_base_dir() -> PathBuf {
    wildcard_base_dir_with(|var| std::env::var_os(var))
}

/// The socket path inside a wildcard's private directory `dir`: `dir/socket`, checked like any
/// path (so a `TMPDIR` too deep for `sun_path` gives
/// [`PathTooLong`](EndpointError::PathTooLong), never a truncated name).
pub fn wildcard_socket_path(dir: &Path) -> Result<SocketPath, EndpointError> {
    SocketPath::new(dir.join(WILDCARD_SOCKET_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_PATH_LEN;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn tmpdir_wins_over_the_others() {
        let vars = [("TMP", "/c"), ("TEMPDIR", "/b"), ("TMPDIR", "/a")];
        assert_eq!(wildcard_base_dir_with(env(&vars)), Path::new("/a"));
    }

    #[test]
    fn tempdir_then_tmp_are_the_fallbacks() {
        let vars = [("TMP", "/c"), ("TEMPDIR", "/b")];
        assert_eq!(wildcard_base_dir_with(env(&vars)), Path::new("/b"));
        assert_eq!(
            wildcard_base_dir_with(env(&[("TMP", "/c")])),
            Path::new("/c")
        );
    }

    #[test]
    fn nothing_set_gives_slash_tmp() {
        assert_eq!(wildcard_base_dir_with(env(&[])), Path::new("/tmp"));
    }

    #[test]
    fn empty_and_relative_values_are_skipped() {
        let vars = [("TMPDIR", ""), ("TEMPDIR", "rel/dir"), ("TMP", "/c")];
        assert_eq!(wildcard_base_dir_with(env(&vars)), Path::new("/c"));
        let vars = [("TMPDIR", "."), ("TMP", "tmp")];
        assert_eq!(wildcard_base_dir_with(env(&vars)), Path::new("/tmp"));
    }

    #[test]
    fn real_environment_gives_an_absolute_dir() {
        assert!(wildcard_base_dir().is_absolute());
    }

    #[test]
    fn socket_path_is_dir_slash_socket() {
        let p = wildcard_socket_path(Path::new("/tmp/tmpAbC123")).unwrap();
        assert_eq!(p.as_bytes(), b"/tmp/tmpAbC123/socket");
    }

    #[test]
    fn too_deep_a_dir_is_too_long_not_truncated() {
        let dir = format!("/{}", "d".repeat(MAX_PATH_LEN));
        let len = dir.len() + "/socket".len();
        assert_eq!(
            wildcard_socket_path(Path::new(&dir)),
            Err(EndpointError::PathTooLong {
                len,
                limit: MAX_PATH_LEN
            })
        );
    }
}
