//! [`Timed`]: a transport that times every call of the one it wraps, for a breakdown of where
//! a `list` goes (`nvgpu bench --breakdown`).

use crate::codec::{class, ctrl, esc, NvStatus};
use crate::error::Result;
use crate::ops::{NvDevice, NvTransport};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wraps a transport and records each call's name and duration, in order.
///
/// ```
/// let h = hostsim::SimHost::freebsd14_with_gpus(2);
/// let t = nvgpu::Timed::new(&h);
/// let d = nvgpu::Driver::open(&t).unwrap();
/// assert_eq!(d.gpus().unwrap().len(), 2);
/// drop(d);
/// let calls: Vec<String> = t.take().into_iter().map(|(name, _)| name).collect();
/// assert_eq!(calls[0], "open /dev/nvidiactl");
/// assert_eq!(calls[1], "escape CHECK_VERSION_STR");
/// assert_eq!(calls.last().unwrap(), "rm_free");
/// ```
#[derive(Debug)]
pub struct Timed<T> {
    inner: T,
    log: Mutex<Vec<(String, Duration)>>,
}

impl<T> Timed<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Timed<T> {
        Timed {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The calls so far (name, duration), emptying the record.
    pub fn take(&self) -> Vec<(String, Duration)> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    fn timed<R>(&self, name: impl FnOnce() -> String, f: impl FnOnce(&T) -> R) -> R {
        let t = Instant::now();
        let r = f(&self.inner);
        let d = t.elapsed();
        if let Ok(mut l) = self.log.lock() {
            l.push((name(), d));
        }
        r
    }
}

/// A call's name: the escape, class or control by NVIDIA's name where nvgpu uses it, else
/// its number.
fn esc_name(nr: u8) -> String {
    match nr {
        esc::CHECK_VERSION_STR => "escape CHECK_VERSION_STR".into(),
        esc::CARD_INFO => "escape CARD_INFO".into(),
        esc::ATTACH_GPUS_TO_FD => "escape ATTACH_GPUS_TO_FD".into(),
        n => format!("escape {n:#x}"),
    }
}

fn class_name(c: u32) -> String {
    match c {
        class::NV01_ROOT_CLIENT => "rm_alloc NV01_ROOT_CLIENT".into(),
        class::NV01_DEVICE_0 => "rm_alloc NV01_DEVICE_0".into(),
        class::NV20_SUBDEVICE_0 => "rm_alloc NV20_SUBDEVICE_0".into(),
        c => format!("rm_alloc class {c:#x}"),
    }
}

fn ctrl_name(c: u32) -> String {
    match c {
        ctrl::GPU_GET_ID_INFO_V2 => "rm_control GPU_GET_ID_INFO_V2".into(),
        ctrl::GPU_GET_NAME_STRING => "rm_control GPU_GET_NAME_STRING".into(),
        ctrl::GPU_GET_GID_INFO => "rm_control GPU_GET_GID_INFO".into(),
        ctrl::FB_GET_INFO_V2 => "rm_control FB_GET_INFO_V2".into(),
        ctrl::GPU_GET_ATTACHED_IDS => "rm_control GPU_GET_ATTACHED_IDS".into(),
        ctrl::SYSTEM_GET_BUILD_VERSION => "rm_control SYSTEM_GET_BUILD_VERSION".into(),
        c => format!("rm_control {c:#x}"),
    }
}

impl<T: NvTransport> NvTransport for Timed<T> {
    fn open(&self, dev: NvDevice) -> Result<()> {
        self.timed(
            || match dev {
                NvDevice::Ctl => "open /dev/nvidiactl".into(),
                NvDevice::Gpu(_) => "open /dev/nvidiaN".into(),
            },
            |t| t.open(dev),
        )
    }
    fn escape(&self, dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()> {
        self.timed(|| esc_name(nr), |t| t.escape(dev, nr, buf))
    }
    fn rm_alloc(
        &self,
        client: u32,
        parent: u32,
        new: u32,
        class: u32,
        params: &mut [u8],
    ) -> Result<(u32, NvStatus)> {
        self.timed(
            || class_name(class),
            |t| t.rm_alloc(client, parent, new, class, params),
        )
    }
    fn rm_control(
        &self,
        client: u32,
        object: u32,
        cmd: u32,
        params: &mut [u8],
    ) -> Result<NvStatus> {
        self.timed(
            || ctrl_name(cmd),
            |t| t.rm_control(client, object, cmd, params),
        )
    }
    fn rm_free(&self, client: u32, parent: u32, object: u32) -> Result<NvStatus> {
        self.timed(|| "rm_free".into(), |t| t.rm_free(client, parent, object))
    }
}

/// Calls grouped by name in first-seen order: (name, calls, total time).
pub fn summarize(calls: &[(String, Duration)]) -> Vec<(String, u32, Duration)> {
    let mut out: Vec<(String, u32, Duration)> = Vec::new();
    for (name, d) in calls {
        match out.iter_mut().find(|(n, _, _)| n == name) {
            Some(e) => {
                e.1 += 1;
                e.2 += *d;
            }
            None => out.push((name.clone(), 1, *d)),
        }
    }
    out
}

/// One kind of call in a `list`: how many per list and the median of their summed time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// The call's name (see [`Timed`]).
    pub name: String,
    /// Calls of it per list.
    pub calls: u32,
    /// The median over the runs of their total time in one list.
    pub median: Duration,
}

/// Where `nvgpu list`'s in-process time goes: `iters` times, a fresh transport from `make`
/// (a fresh file descriptor), `Driver::open`, `gpus()` and the driver's teardown, each call
/// timed. Returns the phases in first-seen order and the median of the whole sequence.
///
/// # Errors
/// The first run's failure (no driver, an RM error).
pub fn list_breakdown<T: NvTransport>(
    make: impl Fn() -> T,
    iters: u32,
) -> Result<(Vec<Phase>, Duration)> {
    let mut runs: Vec<Vec<(String, u32, Duration)>> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..iters.max(1) {
        let t = Timed::new(make());
        let start = Instant::now();
        {
            let d = crate::Driver::open(&t)?;
            d.gpus()?;
        }
        totals.push(start.elapsed());
        runs.push(summarize(&t.take()));
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let phases = runs[0]
        .iter()
        .map(|(name, calls, _)| Phase {
            name: name.clone(),
            calls: *calls,
            median: median(
                runs.iter()
                    .map(|r| {
                        r.iter()
                            .find(|(n, _, _)| n == name)
                            .map_or(Duration::ZERO, |e| e.2)
                    })
                    .collect(),
            ),
        })
        .collect();
    Ok((phases, median(totals)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarize_groups_in_first_seen_order() {
        let ms = Duration::from_millis;
        let s = summarize(&[
            ("a".into(), ms(1)),
            ("b".into(), ms(2)),
            ("a".into(), ms(3)),
        ]);
        assert_eq!(s, [("a".into(), 2, ms(4)), ("b".into(), 1, ms(2))]);
    }
}
