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

    #[test]
    fn clocks_advance_with_work_on_this_thread() {
        let (thread_before, process_before) = (thread().unwrap(), process().unwrap());
        let mut x = 1u64;
        let spin_until = std::time::Instant::now() + Duration::from_millis(30);
        while std::time::Instant::now() < spin_until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let thread_used = thread().unwrap() - thread_before;
        let process_used = process().unwrap() - process_before;
        assert!(thread_used >= Duration::from_millis(10), "{thread_used:?}");
        assert!(
            process_used >= thread_used,
            "{process_used:?} < {thread_used:?}"
        );
    }
}
