//! The one error type of this crate.

/// Why an endpoint string (or a path, or a name) is not a usable `ipc://` endpoint.
///
/// Values are plain data: compare them with `==` in tests. [`EndpointError::errno`] gives the
/// errno a libzmq user would see for the same mistake; `Display` says what went wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The string has no `://` (`"/tmp/x"`, `"ipc:/x"`, `""`). EINVAL.
    #[error("`{input}` is not an endpoint: it has no `://` (write e.g. `ipc:///tmp/feed.sock`)")]
    MissingSeparator {
        /// The whole string as given.
        input: String,
    },
    /// Nothing before `://` (`"://x"`). EINVAL, as in libzmq.
    #[error("`{input}` names no transport before `://`; write e.g. `ipc:///tmp/feed.sock`")]
    MissingTransport {
        /// The whole string as given.
        input: String,
    },
    /// The text before `://` names no transport ZeroMQ knows, or spells one in the wrong case
    /// (`IPC://x`, `ipcx://x`). EPROTONOSUPPORT.
    #[error("{}", unknown_transport_message(.scheme))]
    UnknownTransport {
        /// The text before `://`, as given.
        scheme: String,
    },
    /// Another ZeroMQ transport (`tcp://`, `inproc://`): this crate parses `ipc://` only
    /// (zsock reads those endpoints with their own parsers). EPROTONOSUPPORT.
    #[error("`{scheme}://` is not an ipc endpoint: this parser reads `ipc://` only")]
    TransportNotCarried {
        /// The transport's name, e.g. `"tcp"`.
        scheme: &'static str,
    },
    /// Nothing after `://` (`"ipc://"`; libzmq checks this before the transport's name), or an
    /// empty path given to [`SocketPath::new`]. EINVAL.
    ///
    /// [`SocketPath::new`]: crate::SocketPath::new
    #[error("nothing after `://`: an `ipc://` endpoint needs a path, `@name` or `*`")]
    EmptyPath,
    /// `ipc://@`: an abstract name with no bytes after `@`. EINVAL.
    #[error("`ipc://@` needs a name after the `@`")]
    EmptyAbstractName,
    /// A NUL byte inside the path or name; the kernel would cut the name there. EINVAL.
    #[error("the address has a NUL byte at offset {offset}; socket addresses cannot contain NUL")]
    EmbeddedNul {
        /// Byte offset of the first NUL, counted from the first byte after `ipc://` (or from the
        /// start of the value given to a constructor).
        offset: usize,
    },
    /// The path does not fit in `sun_path` with its terminating NUL. ENAMETOOLONG.
    /// It is never truncated.
    #[error("path is {len} bytes; the limit is {limit}")]
    PathTooLong {
        /// The path's length in bytes.
        len: usize,
        /// [`MAX_PATH_LEN`](crate::MAX_PATH_LEN) on this platform.
        limit: usize,
    },
    /// The abstract name (the bytes after `@`) is too long. ENAMETOOLONG.
    #[error("abstract name is {len} bytes after the `@`; the limit is {limit}")]
    AbstractNameTooLong {
        /// The name's length in bytes, not counting the `@`.
        len: usize,
        /// [`MAX_ABSTRACT_NAME_LEN`](crate::MAX_ABSTRACT_NAME_LEN) on this platform.
        limit: usize,
    },
    /// A filesystem path whose first byte is `@`: in an endpoint string it would read as an
    /// abstract name, so it cannot be printed back. Only a path given to
    /// [`SocketPath::new`](crate::SocketPath::new) or reported by the kernel can hit this. EINVAL.
    #[error("a path that starts with `@` would read as an abstract name; write it as `./@…`")]
    PathStartsWithAt,
    /// `ipc://@name` on a platform without the abstract namespace (anything but Linux and
    /// Android). EINVAL.
    #[error("abstract socket names (`ipc://@name`) exist only on Linux and Android")]
    AbstractUnsupported,
}

impl EndpointError {
    /// The errno libzmq sets for the same mistake: `EINVAL`, `ENAMETOOLONG` or
    /// `EPROTONOSUPPORT`.
    pub fn errno(&self) -> i32 {
        match self {
            EndpointError::UnknownTransport { .. } | EndpointError::TransportNotCarried { .. } => {
                libc::EPROTONOSUPPORT
            }
            EndpointError::PathTooLong { .. } | EndpointError::AbstractNameTooLong { .. } => {
                libc::ENAMETOOLONG
            }
            EndpointError::MissingSeparator { .. }
            | EndpointError::MissingTransport { .. }
            | EndpointError::EmptyPath
            | EndpointError::EmptyAbstractName
            | EndpointError::EmbeddedNul { .. }
            | EndpointError::PathStartsWithAt
            | EndpointError::AbstractUnsupported => libc::EINVAL,
        }
    }
}

fn unknown_transport_message(scheme: &str) -> String {
    for known in ["ipc", "tcp", "inproc"] {
        if scheme.eq_ignore_ascii_case(known) {
            return format!(
                "transport `{scheme}` is not supported: transport names are case-sensitive; \
                 write `{known}://`"
            );
        }
    }
    format!(
        "transport `{scheme}` is not supported; zsock speaks `ipc://`, `tcp://` and `inproc://`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_case_scheme_message_names_the_right_spelling() {
        let e = EndpointError::UnknownTransport {
            scheme: "IPC".into(),
        };
        assert!(e.to_string().contains("write `ipc://`"), "{e}");
        assert_eq!(e.errno(), libc::EPROTONOSUPPORT);
    }

    #[test]
    fn too_long_message_gives_length_and_limit() {
        let e = EndpointError::PathTooLong {
            len: 131,
            limit: 107,
        };
        assert_eq!(e.to_string(), "path is 131 bytes; the limit is 107");
        assert_eq!(e.errno(), libc::ENAMETOOLONG);
    }
}
