//! Recipes: what makes a CUDA jail ready for one program (PyTorch, llama.cpp, ComfyUI),
//! declared as data (`tools/cudajail/recipes/*.toml`, Bastillefile-like): Debian/Ubuntu packages,
//! then steps, each a command run in the jail unless the file it `creates` is already there (so
//! a recipe is idempotent and a re-run resumes), then a check that must pass. Every command's
//! output goes to `/var/log/cudajail/recipe-NAME.log` in the jail.

use serde::Deserialize;

/// The recipes shipped with cudajail.
pub const BUILTIN: &[(&str, &str)] = &[
    ("pytorch", include_str!("../recipes/pytorch.toml")),
    ("llama-cpp", include_str!("../recipes/llama-cpp.toml")),
    ("comfyui", include_str!("../recipes/comfyui.toml")),
];

/// The largest recipe text read, and the most steps and packages one may have.
pub const MAX_RECIPE_BYTES: usize = 64 << 10;
const MAX_STEPS: usize = 64;
const MAX_PACKAGES: usize = 256;

/// A recipe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Its name (`pytorch`).
    pub name: String,
    /// One line saying what the jail ends with.
    pub description: String,
    /// Debian/Ubuntu packages installed first (`apt-get install`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The steps, in order.
    #[serde(default, rename = "step")]
    pub steps: Vec<RecipeStep>,
    /// The check that the program works (exit 0).
    pub check: Option<RecipeCheck>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeStep {
    /// A short name for messages.
    pub name: String,
    /// An absolute path in the jail: when it exists, the step is done and skipped.
    pub creates: String,
    /// The command and its arguments, run in the jail as root.
    pub run: Vec<String>,
}

/// The final check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeCheck {
    /// The command and its arguments; exit 0 means the program works.
    pub run: Vec<String>,
}

impl Recipe {
    /// Parses and checks a recipe's TOML text.
    ///
    /// # Errors
    /// Syntax, unknown fields, limits, a package name apt would not take, a step without a
    /// command or with a `creates` that is not an absolute path without `..`.
    pub fn parse(text: &str) -> anyhow::Result<Recipe> {
        if text.len() > MAX_RECIPE_BYTES {
            anyhow::bail!(
                "a recipe of {} bytes, more than {MAX_RECIPE_BYTES}",
                text.len()
            );
        }
        let r: Recipe = toml::from_str(text)?;
        let ok_name = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b))
        };
        if !ok_name(&r.name) {
            anyhow::bail!(
                "recipe name {:?}: lowercase letters, digits, - and _",
                r.name
            );
        }
        if r.steps.len() > MAX_STEPS || r.packages.len() > MAX_PACKAGES {
            anyhow::bail!(
                "recipe {}: at most {MAX_STEPS} steps and {MAX_PACKAGES} packages",
                r.name
            );
        }
        for p in &r.packages {
            // Debian policy: lowercase letters, digits, + - . ; at least two characters.
            let good = p.len() >= 2
                && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
            if !good {
                anyhow::bail!("recipe {}: {p:?} is not a Debian package name", r.name);
            }
        }
        for s in &r.steps {
            if s.run.is_empty() || s.run[0].is_empty() {
                anyhow::bail!("recipe {}: step {} has no command", r.name, s.name);
            }
            if !s.creates.starts_with('/') || s.creates.split('/').any(|c| c == "..") {
                anyhow::bail!(
                    "recipe {}: step {}: creates {:?} must be an absolute path without ..",
                    r.name,
                    s.name,
                    s.creates
                );
            }
        }
        if r.check.as_ref().is_some_and(|c| c.run.is_empty()) {
            anyhow::bail!("recipe {}: the check has no command", r.name);
        }
        Ok(r)
    }

    /// What identifies the template this recipe builds: 8 hex digits of an FNV-1a hash of its
    /// packages and steps (not its description or check, which the template does not hold), so
    /// a changed recipe builds a new template instead of reusing a stale one.
    #[must_use]
    pub fn digest(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for x in b.iter().chain([0x1f].iter()) {
                h ^= u64::from(*x);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for p in &self.packages {
            eat(b"package");
            eat(p.as_bytes());
        }
        for s in &self.steps {
            eat(b"step");
            eat(s.creates.as_bytes());
            for a in &s.run {
                eat(a.as_bytes());
            }
        }
        format!("{:08x}", (h >> 32) ^ (h & 0xffff_ffff))
    }

    /// A recipe shipped with cudajail, by name.
    ///
    /// # Errors
    /// No such recipe (the names are listed).
    pub fn builtin(name: &str) -> anyhow::Result<Recipe> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            anyhow::anyhow!(
                "no recipe {name:?}; the recipes are {}",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        Recipe::parse(text)
    }

    /// The command that installs the packages (`apt-get` in its non-interactive form).
    pub fn apt_command(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "/usr/bin/apt-get",
            "install",
            "-y",
            "--no-install-recommends",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        v.extend(self.packages.iter().cloned());
        v
    }

    /// What `plan` says it will do.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.packages.is_empty() {
            out.push(format!(
                "recipe {}: apt-get install {} (those not installed yet)",
                self.name,
                self.packages.join(" ")
            ));
        }
        for s in &self.steps {
            out.push(format!(
                "recipe {}: {} unless {} exists: {}",
                self.name,
                s.name,
                s.creates,
                s.run.join(" ")
            ));
        }
        if let Some(c) = &self.check {
            out.push(format!("recipe {}: check: {}", self.name, c.run.join(" ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_builtin_recipe_parses() {
        for (name, _) in BUILTIN {
            let r = Recipe::builtin(name).unwrap();
            assert_eq!(&r.name, name);
            assert!(r.check.is_some(), "{name} checks its program");
            assert!(!r.describe().is_empty());
        }
        assert!(Recipe::builtin("nosuch")
            .unwrap_err()
            .to_string()
            .contains("pytorch, llama-cpp, comfyui"));
    }

    #[test]
    fn the_digest_follows_packages_and_steps_only() {
        let a = Recipe::builtin("pytorch").unwrap();
        let mut b = a.clone();
        b.description = "another text".into();
        b.check = None;
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 8);
        b.packages.push("git".into());
        assert_ne!(a.digest(), b.digest());
        let mut c = a.clone();
        c.steps[0].run.push("-v".into());
        assert_ne!(a.digest(), c.digest());
        assert_ne!(a.digest(), Recipe::builtin("llama-cpp").unwrap().digest());
    }

    #[test]
    fn bad_recipes_are_refused() {
        for (text, want) in [
            ("name = \"X\"\ndescription = \"d\"\n", "lowercase"),
            ("name = \"x\"\ndescription = \"d\"\npackages = [\"Bad Pkg\"]\n", "Debian package"),
            (
                "name = \"x\"\ndescription = \"d\"\n[[step]]\nname = \"s\"\ncreates = \"rel\"\nrun = [\"true\"]\n",
                "absolute",
            ),
            (
                "name = \"x\"\ndescription = \"d\"\n[[step]]\nname = \"s\"\ncreates = \"/a/../b\"\nrun = [\"true\"]\n",
                "without ..",
            ),
            (
                "name = \"x\"\ndescription = \"d\"\n[[step]]\nname = \"s\"\ncreates = \"/a\"\nrun = []\n",
                "no command",
            ),
            ("name = \"x\"\ndescription = \"d\"\nfrobnicate = 1\n", "unknown field"),
        ] {
            let e = Recipe::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = Recipe::parse(&s);
        }
    }
}
