//! The allocator's setting for commands that stream a whole log through
//! every core: `concord audit` and `concord import`.

/// Free memory kept at the top of each of the allocator's heaps.
const TOP_PAD: i32 = 16 << 20;

/// glibc gives the free top of a thread's heap back to the kernel at once,
/// and the next allocation faults it in again page by page. An audit frees
/// and allocates megabytes per chunk of entries on every core: a
/// 1,000,000-entry bundle took about 350,000 page faults, some 4 % of the
/// CPU (17,000 with this). Keeping 16 MiB free per heap stops that. A
/// running node does not call this, so what it frees goes back to the
/// system.
pub fn keep_free_top() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` changes a setting of glibc's allocator under the
    // allocator's own lock; it touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
    }
}
