//! Safe wrappers over libzfs_core, libnvpair and libzfs: the only unchecked code of the crate.
#![allow(unsafe_code)]

use libzfs_sys as z;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::OnceLock;

/// Live `nvlist_t`s made or adopted by [`Nvlist`]: a leak check for the tests.
pub static LIVE_NVLISTS: AtomicIsize = AtomicIsize::new(0);

/// An owned `nvlist_t`, freed on drop.
pub struct Nvlist(*mut z::nvlist_t);

// SAFETY: an nvlist is plain heap data with no thread affinity; we never share the pointer.
unsafe impl Send for Nvlist {}

impl Nvlist {
    /// `nvlist_alloc(NV_UNIQUE_NAME)`.
    pub fn new() -> Result<Nvlist, c_int> {
        let mut p: *mut z::nvlist_t = std::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; on success the list is ours to free.
        let r = unsafe { z::nvlist_alloc(&mut p, z::NV_UNIQUE_NAME, 0) };
        if r != 0 || p.is_null() {
            return Err(if r != 0 { r } else { 12 });
        }
        LIVE_NVLISTS.fetch_add(1, Ordering::SeqCst);
        Ok(Nvlist(p))
    }

    /// Adopts a list the library returned (an errlist, user properties to copy): `None` for NULL.
    ///
    /// # Safety
    /// `p` must be NULL or an nvlist the caller owns and nobody else frees.
    unsafe fn adopt(p: *mut z::nvlist_t) -> Option<Nvlist> {
        if p.is_null() {
            return None;
        }
        LIVE_NVLISTS.fetch_add(1, Ordering::SeqCst);
        Some(Nvlist(p))
    }

    /// `nvlist_add_boolean`.
    pub fn add_boolean(&mut self, name: &CStr) -> Result<(), c_int> {
        // SAFETY: the list is live; `name` is a valid C string copied by the library.
        rc(unsafe { z::nvlist_add_boolean(self.0, name.as_ptr()) })
    }

    /// `nvlist_add_string`.
    pub fn add_string(&mut self, name: &CStr, value: &CStr) -> Result<(), c_int> {
        // SAFETY: as above; both strings are copied.
        rc(unsafe { z::nvlist_add_string(self.0, name.as_ptr(), value.as_ptr()) })
    }

    /// The `(name, int32)` pairs of a list (an errlist maps names to errnos).
    pub fn int32_pairs(&self) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        let mut pair: *mut z::nvpair_t = std::ptr::null_mut();
        loop {
            // SAFETY: the list is live; `pair` is NULL or a pair of this list.
            pair = unsafe { z::nvlist_next_nvpair(self.0, pair) };
            if pair.is_null() {
                return out;
            }
            // SAFETY: `pair` is a live pair of this list; its name is a C string it owns.
            let name = unsafe { CStr::from_ptr(z::nvpair_name(pair)) }
                .to_string_lossy()
                .into_owned();
            let mut v: i32 = 0;
            // SAFETY: `v` is a valid out-pointer; a non-int32 pair makes the call fail harmlessly.
            if unsafe { z::nvpair_value_int32(pair, &mut v) } == 0 {
                out.push((name, v));
            }
        }
    }

    /// `nvlist_lookup_nvlist(name)` then `nvlist_lookup_string("value")`: how user properties
    /// are laid out (`{ "a:b": { "value": "…", "source": "…" } }`).
    pub fn user_prop(&self, name: &CStr) -> Option<String> {
        let mut inner: *mut z::nvlist_t = std::ptr::null_mut();
        // SAFETY: the list is live; `inner` receives a pointer into it (not owned by us).
        if unsafe { z::nvlist_lookup_nvlist(self.0, name.as_ptr(), &mut inner) } != 0
            || inner.is_null()
        {
            return None;
        }
        let mut s: *const c_char = std::ptr::null();
        // SAFETY: `inner` is live for as long as `self`; `s` points into it.
        if unsafe { z::nvlist_lookup_string(inner, c"value".as_ptr(), &mut s) } != 0 || s.is_null()
        {
            return None;
        }
        // SAFETY: `s` is a NUL-terminated string inside the live list.
        Some(unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
    }

    fn ptr(&self) -> *mut z::nvlist_t {
        self.0
    }
}

impl Drop for Nvlist {
    fn drop(&mut self) {
        // SAFETY: we own the list and free it exactly once.
        unsafe { z::nvlist_free(self.0) };
        LIVE_NVLISTS.fetch_sub(1, Ordering::SeqCst);
    }
}

fn rc(r: c_int) -> Result<(), c_int> {
    if r == 0 {
        Ok(())
    } else {
        Err(r)
    }
}

static INIT: OnceLock<c_int> = OnceLock::new();

/// `libzfs_core_init()`, once per process (it opens `/dev/zfs`).
pub fn init() -> Result<(), c_int> {
    // SAFETY: libzfs_core_init has no preconditions and is reference-counted by the library.
    rc(*INIT.get_or_init(|| unsafe { z::libzfs_core_init() }))
}

/// `lzc_create(name, ZFS, props)`.
pub fn create(name: &CStr, props: &Nvlist) -> Result<(), c_int> {
    // SAFETY: valid C string and live nvlist; no key data.
    rc(unsafe {
        z::lzc_create(
            name.as_ptr(),
            z::lzc_dataset_type::LZC_DATSET_TYPE_ZFS,
            props.ptr(),
            std::ptr::null_mut(),
            0,
        )
    })
}

/// `lzc_clone(name, origin, props)`.
pub fn clone(name: &CStr, origin: &CStr, props: &Nvlist) -> Result<(), c_int> {
    // SAFETY: valid C strings and a live nvlist.
    rc(unsafe { z::lzc_clone(name.as_ptr(), origin.as_ptr(), props.ptr()) })
}

/// `lzc_snapshot(snaps, NULL, &errlist)`: the errno and the per-snapshot errors.
pub fn snapshot(snaps: &Nvlist) -> Result<(), (c_int, Vec<(String, i32)>)> {
    with_errlist(|errlist| {
        // SAFETY: live nvlist; `errlist` receives a list the caller then owns.
        unsafe { z::lzc_snapshot(snaps.ptr(), std::ptr::null_mut(), errlist) }
    })
}

/// Runs an lzc call that reports per-item errors in an errlist, and takes ownership of it.
fn with_errlist(
    call: impl FnOnce(*mut *mut z::nvlist_t) -> c_int,
) -> Result<(), (c_int, Vec<(String, i32)>)> {
    let mut errlist: *mut z::nvlist_t = std::ptr::null_mut();
    let r = call(&mut errlist);
    // SAFETY: the library hands the errlist (or NULL) to the caller, who frees it.
    let errs = unsafe { Nvlist::adopt(errlist) }
        .map(|l| l.int32_pairs())
        .unwrap_or_default();
    if r == 0 {
        Ok(())
    } else {
        Err((r, errs))
    }
}

/// `lzc_destroy(name)` (filesystems).
pub fn destroy(name: &CStr) -> Result<(), c_int> {
    // SAFETY: valid C string.
    rc(unsafe { z::lzc_destroy(name.as_ptr()) })
}

/// `lzc_destroy_snaps(snaps, B_FALSE, &errlist)`.
pub fn destroy_snaps(snaps: &Nvlist) -> Result<(), (c_int, Vec<(String, i32)>)> {
    with_errlist(|errlist| {
        // SAFETY: live nvlist; `errlist` receives a list the caller then owns.
        unsafe { z::lzc_destroy_snaps(snaps.ptr(), z::boolean_t_B_FALSE, errlist) }
    })
}

/// `lzc_rollback_to(fs, snap)`.
pub fn rollback_to(fs: &CStr, snap: &CStr) -> Result<(), c_int> {
    // SAFETY: valid C strings.
    rc(unsafe { z::lzc_rollback_to(fs.as_ptr(), snap.as_ptr()) })
}

/// `lzc_rename(from, to)`.
pub fn rename(from: &CStr, to: &CStr) -> Result<(), c_int> {
    // SAFETY: valid C strings.
    rc(unsafe { z::lzc_rename(from.as_ptr(), to.as_ptr()) })
}

/// `lzc_promote(fs)`; returns the name of a conflicting snapshot on failure when there is one.
pub fn promote(fs: &CStr) -> Result<(), (c_int, String)> {
    let mut buf = [0 as c_char; 256];
    // SAFETY: valid C string; `buf` is writable for its length.
    let r = unsafe { z::lzc_promote(fs.as_ptr(), buf.as_mut_ptr(), buf.len() as c_int) };
    if r == 0 {
        return Ok(());
    }
    // SAFETY: the library writes a NUL-terminated name (or nothing) into the zeroed buffer.
    let conflict = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Err((r, conflict))
}

/// `lzc_exists(name)`.
pub fn exists(name: &CStr) -> bool {
    // SAFETY: valid C string.
    unsafe { z::lzc_exists(name.as_ptr()) != 0 }
}

/// A libzfs handle, for what libzfs_core lacks (properties, iteration).
pub struct Libzfs(*mut z::libzfs_handle_t);

// SAFETY: used behind a Mutex by the caller; libzfs handles are not thread-affine.
unsafe impl Send for Libzfs {}

/// An open dataset, closed on drop.
pub struct Dataset<'a> {
    h: *mut z::zfs_handle_t,
    _lib: &'a Libzfs,
}

impl Libzfs {
    /// `libzfs_init()`.
    pub fn new() -> Option<Libzfs> {
        // SAFETY: no preconditions; NULL means /dev/zfs could not be opened.
        let h = unsafe { z::libzfs_init() };
        (!h.is_null()).then_some(Libzfs(h))
    }

    /// The library's description of its last error.
    pub fn error(&self) -> String {
        // SAFETY: the handle is live; the string belongs to it and is copied at once.
        let p = unsafe { z::libzfs_error_description(self.0) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: `p` is a NUL-terminated string owned by the handle.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// `zfs_open(name, filesystem|snapshot|volume)`.
    pub fn open(&self, name: &CStr) -> Option<Dataset<'_>> {
        // ZFS_TYPE_FILESYSTEM | ZFS_TYPE_SNAPSHOT | ZFS_TYPE_VOLUME
        let types: c_int = 1 | 2 | 4;
        // SAFETY: live handle; valid C string; NULL on failure.
        let h = unsafe { z::zfs_open(self.0, name.as_ptr(), types) };
        (!h.is_null()).then_some(Dataset { h, _lib: self })
    }
}

impl Drop for Libzfs {
    fn drop(&mut self) {
        // SAFETY: we own the handle; every Dataset borrowing it is gone.
        unsafe { z::libzfs_fini(self.0) };
    }
}

extern "C" fn collect_name(zhp: *mut z::zfs_handle_t, data: *mut c_void) -> c_int {
    // SAFETY: libzfs passes a live handle it gives to us (we close it) and the `data` we passed,
    // a `*mut Vec<String>` that outlives the iteration.
    unsafe {
        let v = &mut *data.cast::<Vec<String>>();
        let n = z::zfs_get_name(zhp);
        if !n.is_null() {
            v.push(CStr::from_ptr(n).to_string_lossy().into_owned());
        }
        z::zfs_close(zhp);
    }
    0
}

impl Dataset<'_> {
    /// A native property's value (`zfs_prop_get` with literal numbers); `None` when the name is
    /// not a native property or has no value.
    pub fn native_prop(&self, name: &CStr) -> Option<String> {
        // SAFETY: valid C string; returns ZPROP_INVAL (-1) for non-native names.
        let prop = unsafe { z::zfs_name_to_prop(name.as_ptr()) };
        if (prop as i32) < 0 {
            return None;
        }
        let mut buf = vec![0 as c_char; z::ZFS_MAXPROPLEN as usize];
        let mut src: z::zprop_source_t = 0;
        // SAFETY: live dataset handle; `buf` is writable for its length; no source buffer.
        let r = unsafe {
            z::zfs_prop_get(
                self.h,
                prop,
                buf.as_mut_ptr(),
                buf.len(),
                &mut src,
                std::ptr::null_mut(),
                0,
                z::boolean_t_B_TRUE,
            )
        };
        if r != 0 {
            return None;
        }
        // SAFETY: zfs_prop_get wrote a NUL-terminated string into `buf`.
        Some(
            unsafe { CStr::from_ptr(buf.as_ptr()) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// A user property's value.
    pub fn user_prop(&self, name: &CStr) -> Option<String> {
        // SAFETY: live handle; the returned list belongs to the handle (not freed by us).
        let l = unsafe { z::zfs_get_user_props(self.h) };
        if l.is_null() {
            return None;
        }
        // Borrow it without taking ownership.
        let borrowed = std::mem::ManuallyDrop::new(Nvlist(l));
        LIVE_NVLISTS.fetch_add(1, Ordering::SeqCst);
        let v = borrowed.user_prop(name);
        LIVE_NVLISTS.fetch_sub(1, Ordering::SeqCst);
        v
    }

    /// `zfs_prop_set`.
    pub fn set_prop(&self, name: &CStr, value: &CStr) -> Result<(), c_int> {
        // SAFETY: live handle; valid C strings copied by the library.
        rc(unsafe { z::zfs_prop_set(self.h, name.as_ptr(), value.as_ptr()) })
    }

    /// `zfs_mount(zhp, NULL, 0)`: mounts a filesystem at its mountpoint (what zfs(8) does after
    /// create and clone; libzfs_core does not).
    pub fn mount(&self) -> Result<(), c_int> {
        // SAFETY: live handle; NULL options.
        rc(unsafe { z::zfs_mount(self.h, std::ptr::null(), 0) })
    }

    /// `zfs_unmount(zhp, NULL, 0)` when mounted.
    pub fn unmount(&self) -> Result<(), c_int> {
        // SAFETY: live handle; a NULL where-pointer is allowed by zfs_is_mounted.
        if unsafe { z::zfs_is_mounted(self.h, std::ptr::null_mut()) } == 0 {
            return Ok(());
        }
        // SAFETY: live handle; NULL mountpoint means its own.
        rc(unsafe { z::zfs_unmount(self.h, std::ptr::null(), 0) })
    }

    /// Direct child filesystems and snapshots.
    pub fn children(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let data = std::ptr::from_mut(&mut v).cast::<c_void>();
        // SAFETY: live handle; the callback matches `zfs_iter_f` and `data` outlives both calls.
        unsafe {
            z::zfs_iter_filesystems_v2(self.h, 0, Some(collect_name), data);
            z::zfs_iter_snapshots_v2(self.h, 0, Some(collect_name), data, 0, 0);
        }
        v
    }
}

impl Drop for Dataset<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the dataset handle and close it once.
        unsafe { z::zfs_close(self.h) };
    }
}

/// A C string from Rust text, `None` with an interior NUL.
pub fn cstring(s: &str) -> Option<CString> {
    CString::new(s).ok()
}
