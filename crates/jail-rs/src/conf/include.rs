//! `.include`: files and globs, relative to the including file, bounded in depth.

use super::ast::{Item, JailConf};
use super::parse::perr;
use crate::error::Result;

impl JailConf {
    /// Replaces each `.include` with the items of the files its pattern matches (sorted, as
    /// glob(3) returns them), recursively; patterns are relative to the including file.
    ///
    /// # Errors
    /// A missing file named without a pattern (a pattern matching nothing includes nothing);
    /// unreadable or unparsable included files; includes nested deeper than 16.
    pub fn expand_includes(self, base_dir: &str, fs: &dyn ConfFs) -> Result<JailConf> {
        fn go(items: Vec<Item>, dir: &str, fs: &dyn ConfFs, depth: usize) -> Result<Vec<Item>> {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Item::Include { pattern, pos } => {
                        if depth > 16 {
                            return Err(perr(&pos, "includes nested too deep"));
                        }
                        let pat = pattern
                            .as_lit()
                            .ok_or_else(|| perr(&pos, "variables are not allowed in .include"))?;
                        let full = if pat.starts_with('/') {
                            pat
                        } else {
                            format!("{}/{pat}", dir.trim_end_matches('/'))
                        };
                        let (d, glob) = full.rsplit_once('/').unwrap_or((".", full.as_str()));
                        // A plain name must exist (jail(8) fails on a missing file); a pattern
                        // that matches nothing includes nothing (glob(3) with GLOB_NOCHECK off).
                        if !glob.contains(['*', '?', '[']) {
                            let text = fs
                                .read(&full)
                                .ok_or_else(|| perr(&pos, format!("cannot read {full}")))?;
                            let inner = JailConf::parse(&text, &full)?;
                            out.extend(go(inner.items, d, fs, depth + 1)?);
                            continue;
                        }
                        let mut names: Vec<String> = fs
                            .list(d)
                            .into_iter()
                            .filter(|n| sysabi::fnmatch::fnmatch(glob, n) && !n.starts_with('.'))
                            .collect();
                        names.sort();
                        for n in names {
                            let path = format!("{d}/{n}");
                            let text = fs
                                .read(&path)
                                .ok_or_else(|| perr(&pos, format!("cannot read {path}")))?;
                            let inner = JailConf::parse(&text, &path)?;
                            out.extend(go(inner.items, d, fs, depth + 1)?);
                        }
                    }
                    Item::Jail { name, items, pos } => out.push(Item::Jail {
                        name,
                        items: go(items, dir, fs, depth)?,
                        pos,
                    }),
                    other => out.push(other),
                }
            }
            Ok(out)
        }
        Ok(JailConf {
            items: go(self.items, base_dir, fs, 0)?,
        })
    }
}

/// What [`JailConf::expand_includes`] reads files through.
pub trait ConfFs {
    /// A file's text.
    fn read(&self, path: &str) -> Option<String>;
    /// The names in a directory.
    fn list(&self, dir: &str) -> Vec<String>;
}

/// [`ConfFs`] over the real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdConfFs;

impl ConfFs for StdConfFs {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
    fn list(&self, dir: &str) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}
