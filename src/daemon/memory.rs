//! Memory given back to the system when letdownd has nothing to do.
//!
//! A session, a synthesis or a burst of requests leaves freed memory inside the allocator
//! (glibc keeps it for reuse, and keeps one pool per thread that ever allocated). An idle
//! daemon should cost next to nothing, so letdownd uses one pool for all its threads and hands
//! free pages back each time it goes idle. Elsewhere than glibc, both do nothing.

/// One allocation pool for every thread: letdownd's threads allocate rarely (the audio never
/// does), so sharing costs nothing, and memory freed by one thread is reused by the next
/// instead of each keeping its own. Call before any thread starts.
pub fn one_pool() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the allocator's free pages to the system (after a session, a synthesis).
pub fn give_back() {
    let t = std::time::Instant::now();
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim is thread-safe and only releases memory nothing uses.
    unsafe {
        libc::malloc_trim(0);
    }
    log::debug!("memory handed back in {:?}", t.elapsed());
}
