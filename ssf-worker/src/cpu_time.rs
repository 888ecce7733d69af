//! CPU time used by the calling thread or by the whole process, read from the kernel's
//! clocks. Signing is the one CPU-bound step of delivery, so the signer counts its own CPU
//! time (`ssf_signing_cpu_seconds_total`), and the delivery benchmark splits a run's CPU into
//! signing and everything else: a figure that holds still while the machine's speed drifts,
//! where SETs per second do not.

use std::time::Duration;

/// CPU time this thread has used. `None` where the platform has no per-thread clock.
pub fn thread() -> Option<Duration> {
    #[cfg(unix)]
    {
        clock(libc::CLOCK_THREAD_CPUTIME_ID)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// CPU time every thread of this process has used, user and system.
pub fn process() -> Option<Duration> {
    #[cfg(unix)]
    {
        clock(libc::CLOCK_PROCESS_CPUTIME_ID)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The CPU clock of one thread, taken on that thread and readable from any other (the bench
/// reads its receiver thread's this way).
#[derive(Debug, Clone, Copy)]
pub struct ThreadClock {
    #[cfg(unix)]
    id: libc::clockid_t,
}

impl ThreadClock {
    /// The calling thread's clock; `None` where the platform has none.
    pub fn current() -> Option<Self> {
        #[cfg(unix)]
        {
            let mut id: libc::clockid_t = 0;
            // SAFETY: pthread_self() is the calling thread, alive for the call; `id` is writable.
            let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
            (rc == 0).then_some(Self { id })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// CPU time the thread has used; `None` once it has ended.
    pub fn read(&self) -> Option<Duration> {
        #[cfg(unix)]
        {
            clock(self.id)
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

#[cfg(unix)]
fn clock(id: libc::clockid_t) -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(id, &mut now) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Keeps the calling thread busy for `time` of wall-clock time.
    fn spin(time: Duration) {
        let mut x = 1u64;
        let spin_until = std::time::Instant::now() + time;
        while std::time::Instant::now() < spin_until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn clocks_advance_with_work_on_this_thread() {
        let (thread_before, process_before) = (thread().unwrap(), process().unwrap());
        spin(Duration::from_millis(30));
        let thread_used = thread().unwrap() - thread_before;
        let process_used = process().unwrap() - process_before;
        assert!(thread_used >= Duration::from_millis(10), "{thread_used:?}");
        assert!(
            process_used >= thread_used,
            "{process_used:?} < {thread_used:?}"
        );
    }

    #[test]
    fn another_threads_clock_counts_that_threads_work_only() {
        let (clock_tx, clock_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            clock_tx.send(ThreadClock::current().unwrap()).unwrap();
            go_rx.recv().unwrap();
            spin(Duration::from_millis(40));
            done_tx.send(()).unwrap();
            // Kept alive until its clock has been read.
            go_rx.recv().unwrap();
        });
        let clock = clock_rx.recv().unwrap();
        let before = clock.read().unwrap();
        let here_before = thread().unwrap();
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        let used = clock.read().unwrap() - before;
        let here_used = thread().unwrap() - here_before;
        go_tx.send(()).unwrap();
        worker.join().unwrap();
        assert!(used >= Duration::from_millis(20), "{used:?}");
        // This thread only waited meanwhile.
        assert!(here_used < used / 2, "{here_used:?} vs {used:?}");
    }
}
