//! [`Printer`]: standard output written by a thread of its own, so the main loop never
//! blocks on it.
//!
//! A reader that stops reading zcat's output blocks whoever writes it. That is this
//! thread: the main loop keeps watching the socket and the signal descriptor, stops
//! receiving while [`QUEUE`] lines wait (so a slow reader slows the peers down through the
//! socket's high-water marks, as a blocking print would), and exits at once on SIGINT or
//! SIGTERM, leaving a write that cannot finish behind.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Lines handed to the thread and not yet written, at most.
pub(crate) const QUEUE: usize = 256;

/// Standard output behind a thread.
pub(crate) struct Printer {
    tx: Option<SyncSender<String>>,
    /// A line the queue had no room for; nothing more is taken until it goes.
    pending: Option<String>,
    /// Readable when the thread wrote a line (a byte each) or ended (end of file).
    written: OwnedFd,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Printer {
    /// Starts the thread, writing to a duplicate of descriptor 1.
    pub(crate) fn start() -> io::Result<Printer> {
        let out = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let (written, poke) = crate::wake_pipe()?;
        let (tx, rx) = mpsc::sync_channel::<String>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("zcat-stdout".into())
            .spawn(move || {
                let mut out = out;
                for mut line in rx {
                    line.push('\n');
                    out.write_all(line.as_bytes())?;
                    // SAFETY: writes one byte from a live local to our own non-blocking
                    // pipe; a full pipe already tells the main loop to look.
                    unsafe { libc::write(poke.as_raw_fd(), b"x".as_ptr().cast(), 1) };
                }
                Ok(())
            })?;
        Ok(Printer {
            tx: Some(tx),
            pending: None,
            written,
            thread: Some(thread),
        })
    }

    /// Whether another line can be taken now.
    pub(crate) fn has_room(&mut self) -> io::Result<bool> {
        self.push_pending()?;
        Ok(self.pending.is_none())
    }

    /// Hands a line to the thread; kept as pending if its queue is full.
    pub(crate) fn print(&mut self, line: String) -> io::Result<()> {
        debug_assert!(self.pending.is_none(), "print only after has_room");
        self.pending = Some(line);
        self.push_pending()
    }

    fn push_pending(&mut self) -> io::Result<()> {
        let (Some(line), Some(tx)) = (self.pending.take(), &self.tx) else {
            return Ok(());
        };
        match tx.try_send(line) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(line)) => {
                self.pending = Some(line);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(self.failure()),
        }
    }

    /// The descriptor to poll while a line is pending.
    pub(crate) fn written_fd(&self) -> Option<&OwnedFd> {
        self.pending.as_ref().map(|_| &self.written)
    }

    /// Clears the wake-ups read so far.
    pub(crate) fn drain(&self) {
        crate::drain(&self.written);
    }

    /// Hands a line to the thread, waiting while its queue is full, unless `signal`
    /// becomes readable first. `Ok(false)`: the signal came and the line was left out.
    /// (For a caller with nothing else to watch, such as the proxy's tap.)
    pub(crate) fn print_or_stop(&mut self, line: String, signal: &OwnedFd) -> io::Result<bool> {
        while !self.has_room()? {
            if !wait_either(&self.written, signal)? {
                return Ok(false);
            }
            self.drain();
        }
        self.print(line)?;
        Ok(true)
    }

    /// Ends the thread after it wrote everything, unless `signal` becomes readable first.
    /// `Ok(false)`: the signal came (the thread is left to the process's exit).
    pub(crate) fn finish(&mut self, signal: &OwnedFd) -> io::Result<bool> {
        loop {
            self.push_pending()?;
            if self.pending.is_none() {
                break;
            }
            if !wait_either(&self.written, signal)? {
                return Ok(false);
            }
            self.drain();
        }
        self.tx = None; // the thread ends after the last line, closing its pipe
        loop {
            if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
                break;
            }
            if !wait_either(&self.written, signal)? {
                return Ok(false);
            }
            self.drain();
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.map(|()| true),
            Some(Err(_)) => Err(io::Error::other("the stdout thread panicked")),
            None => Ok(true),
        }
    }

    /// Why the thread ended early.
    fn failure(&mut self) -> io::Error {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the stdout thread ended"),
        }
    }
}

/// Waits until `a` or `b` is readable: `true` for `a`, `false` for `b`.
fn wait_either(a: &OwnedFd, b: &OwnedFd) -> io::Result<bool> {
    let mut fds = [a.as_raw_fd(), b.as_raw_fd()].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    poll_ready(&mut fds)?;
    Ok(fds[1].revents == 0)
}

/// poll(2) on `fds` until one is ready, without a timeout; again after EINTR.
pub(crate) fn poll_ready(fds: &mut [libc::pollfd]) -> io::Result<()> {
    loop {
        // SAFETY: `fds` is a live slice of pollfd structs, its length passed with it.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
