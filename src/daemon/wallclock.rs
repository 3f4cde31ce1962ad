//! Sleeping until a wall-clock time, correctly across suspend and clock changes.
//!
//! A monotonic sleep stops while the machine is suspended, so a session due at 16:40 would fire
//! late after a resume. A timerfd on `CLOCK_REALTIME` with an absolute expiry fires as soon as
//! the wall clock reaches the time (also right after a resume past it), and with
//! `TFD_TIMER_CANCEL_ON_SET` it wakes when the clock is set (NTP, by hand), so the caller
//! recomputes. No polling. A time-zone change does not set the clock (it is UTC underneath), so
//! it does not wake this timer: [`super::zone`] watches for that.

use jiff::Timestamp;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// Why a wall-clock sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The time came.
    Reached,
    /// The system clock was set: recompute the deadline.
    ClockChanged,
}

/// Sleeps until the wall clock reads `at` (returns at once if it already has).
pub async fn sleep_until(at: Timestamp) -> std::io::Result<Wake> {
    let fd = TimerFd::new(
        ClockId::CLOCK_REALTIME,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )?;
    let secs = at.as_second().max(1);
    let nanos = at.subsec_nanosecond().max(0) as i64;
    fd.set(
        Expiration::OneShot(TimeSpec::new(secs, nanos)),
        TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
    )?;
    // SAFETY: the timerfd is owned by `Timer`, which the AsyncFd owns: the descriptor stays
    // open and the same for the AsyncFd's whole life.
    let fd = unsafe { AsyncFd::register_with_interest(Timer(fd), tokio::io::Interest::READABLE) }
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    loop {
        let mut guard = fd.readable().await?;
        let mut buf = [0u8; 8];
        match nix::unistd::read(&guard.get_inner().0, &mut buf) {
            Ok(_) => return Ok(Wake::Reached),
            Err(nix::errno::Errno::ECANCELED) => return Ok(Wake::ClockChanged),
            Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The timerfd, as tokio wants it.
struct Timer(TimerFd);

impl std::os::fd::AsRawFd for Timer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Sleeps until the wall-clock time `at` (never, without one): the coach's wake for the
/// schedule. When the wall-clock timer fails, it waits a second here, inside the future the
/// coach races with everything else, and returns: the schedule is checked again then, and no
/// request waits meanwhile.
pub async fn wake_at(at: Option<Timestamp>) {
    let Some(t) = at else {
        return std::future::pending().await;
    };
    if let Err(e) = sleep_until(t).await {
        log::error!("wall-clock timer: {e}; checking the schedule again in a second");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Sleeps until the monotonic `deadline` (never, without one): the coach's deadlines (a step,
/// the output's health, closing the output), which a `select!` races with everything else.
pub async fn sleep_until_instant(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_at_a_wall_clock_time_and_at_once_for_a_past_one() {
        let start = std::time::Instant::now();
        let target = Timestamp::now() + jiff::SignedDuration::from_millis(300);
        assert_eq!(sleep_until(target).await.unwrap(), Wake::Reached);
        let took = start.elapsed();
        assert!(took >= std::time::Duration::from_millis(250), "{took:?}");
        assert!(Timestamp::now() >= target);
        let start = std::time::Instant::now();
        assert_eq!(
            sleep_until(Timestamp::now() - jiff::SignedDuration::from_secs(60))
                .await
                .unwrap(),
            Wake::Reached
        );
        assert!(start.elapsed() < std::time::Duration::from_millis(100));
    }
}
