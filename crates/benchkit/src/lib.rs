//! What the workspace's benchmarks share (not published): a global allocator that counts the
//! bytes in use, so a benchmark can report the heap peak of one operation against its input
//! (the process's resident size would include the program itself and freed pages).
//!
//! ```
//! #[global_allocator]
//! static A: benchkit::Counting = benchkit::Counting;
//!
//! let text = "x".repeat(1000);
//! let (v, peak) = benchkit::heap_peak(|| text.repeat(2));
//! assert_eq!(v.len(), 2000);
//! assert!(peak >= 2000, "{peak}");
//! ```

mod sys;
pub use sys::Counting;

/// Runs `f` and returns its result with the largest number of heap bytes it had in use at
/// once (allocated during it and not yet freed; only with [`Counting`] as the global
/// allocator, otherwise 0). Counting costs time: take timings outside this call.
pub fn heap_peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    sys::start();
    let v = f();
    (v, sys::stop())
}
