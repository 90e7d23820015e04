//! The counting allocator: the one place this crate needs `unsafe` (implementing
//! `GlobalAlloc`).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// The system allocator; while a measurement runs ([`crate::heap_peak`]) it also counts the
/// bytes allocated and freed and keeps their peak (without a compare-and-swap: exact for a
/// single-threaded benchmark). Outside a measurement it only forwards, so timings taken there
/// are the plain allocator's.
pub struct Counting;
static ON: AtomicBool = AtomicBool::new(false);
static NOW: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn add(n: usize) {
    if ON.load(Relaxed) {
        let now = NOW.fetch_add(n as isize, Relaxed) + n as isize;
        if now > PEAK.load(Relaxed) {
            PEAK.store(now, Relaxed);
        }
    }
}

fn sub(n: usize) {
    if ON.load(Relaxed) {
        NOW.fetch_sub(n as isize, Relaxed);
    }
}

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size());
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        sub(l.size());
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            add(new - l.size());
        } else {
            sub(l.size() - new);
        }
        // SAFETY: as GlobalAlloc::realloc requires, passed through.
        unsafe { System.realloc(p, l, new) }
    }
}

/// Starts counting from zero.
pub(crate) fn start() {
    NOW.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    ON.store(true, Relaxed);
}

/// Stops counting and returns the peak since [`start`] (bytes freed that were allocated
/// before it lower the count, so the peak is never over-stated).
pub(crate) fn stop() -> usize {
    ON.store(false, Relaxed);
    usize::try_from(PEAK.load(Relaxed)).unwrap_or(0)
}
