//! For tests of a process that may use one CPU only: pinning, and counting sleeps. Shared
//! by the tests of ipc-transport, zsock and zsock-tokio, each using part of it.
#![allow(dead_code)]

/// Restricts the calling thread (and the threads it starts later) to the first CPU it may
/// use.
pub(crate) fn pin_to_one_cpu() {
    // SAFETY: `set` is a live cpu_set_t for both calls; the results are checked.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("some CPU");
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
    }
}

/// How many times the calling thread has slept (voluntary context switches: a wait in
/// poll(2) that did not find its input ready; a yield is not one).
pub(crate) fn sleeps_so_far() -> i64 {
    // SAFETY: `usage` is a live rusage for the call; the result is checked.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage.ru_nvcsw
    }
}
