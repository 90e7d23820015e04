//! Applying a recipe ([`crate::recipe::Recipe`]) in a running jail: packages, then each step
//! whose `creates` is missing, then (in the user's jail, not the template's) the check; every
//! command's output appended to `/var/log/cudajail/recipe-NAME.log` in the jail. The
//! `recipe-template` step applies packages and steps once to the recipe's template, in a
//! temporary jail; the jail cloned from it then only runs the check (and anything missing).

use super::{Env, Perm, READ_LIMIT};
use crate::plan::Plan;
use crate::recipe::Recipe;
use anyhow::{anyhow, bail};

/// How much of the recipe log is kept (its tail).
const LOG_KEEP: usize = 1 << 20;

fn log_append(env: &Env<'_>, root: &str, rel: &str, text: &str) -> anyhow::Result<()> {
    env.fs.mkdir_beneath(root, "var/log/cudajail", Perm::DIR)?;
    // A log that cannot be read is an error, not an empty log: rewriting it would lose its
    // history (a fault sweep found this).
    let mut old = env
        .fs
        .read_beneath(root, rel, READ_LIMIT)?
        .unwrap_or_default();
    old.extend_from_slice(text.as_bytes());
    if old.len() > LOG_KEEP {
        old.drain(..old.len() - LOG_KEEP);
    }
    env.fs.write_beneath(root, rel, &old, Perm::FILE)?;
    Ok(())
}

/// Applies `recipe` in the running jail of `p`; what it did, in one line. Nothing is undone on
/// failure: the jail is up and a re-run resumes where it stopped.
///
/// # Errors
/// The jail not running; a command that failed (named, with the end of its output and the
/// log's path); the check failing.
pub fn apply_recipe(env: &Env<'_>, p: &Plan, recipe: &Recipe) -> anyhow::Result<String> {
    let j = env
        .jail
        .get(&p.jail.name)?
        .ok_or_else(|| anyhow!("jail {} is not running", p.name))?;
    apply_in(env, j.jid, &p.root, recipe, true)
}

/// Applies `recipe` in the running jail `jid` whose root is `root`: packages and steps, and the
/// check when `check` is set.
///
/// # Errors
/// As [`apply_recipe`].
pub fn apply_in(
    env: &Env<'_>,
    jid: jail::Jid,
    root: &str,
    recipe: &Recipe,
    check: bool,
) -> anyhow::Result<String> {
    let log_rel = format!("var/log/cudajail/recipe-{}.log", recipe.name);
    let log_path = format!("/{log_rel}");
    let run = |what: &str, argv: &[String]| -> anyhow::Result<()> {
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (code, out) = env.exec.exec(jid, &args)?;
        log_append(
            env,
            root,
            &log_rel,
            &format!(
                "$ {}\n{out}{}[exit {code}]\n",
                argv.join(" "),
                if out.ends_with('\n') || out.is_empty() {
                    ""
                } else {
                    "\n"
                }
            ),
        )?;
        if code != 0 {
            let tail: Vec<&str> = out.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "recipe {}: {what} failed (exit {code}): {}\n{}\nthe whole output is in {log_path} in the jail",
                recipe.name,
                argv.join(" "),
                tail.join("\n")
            );
        }
        Ok(())
    };
    let mut did = Vec::new();
    // Packages dpkg does not list yet (its info/<pkg>.list, or <pkg>:amd64.list).
    let missing: Vec<&String> = recipe
        .packages
        .iter()
        .filter(|pkg| {
            ["", ":amd64"].iter().all(|arch| {
                env.fs
                    .stat_beneath(root, &format!("var/lib/dpkg/info/{pkg}{arch}.list"))
                    .ok()
                    .flatten()
                    .is_none()
            })
        })
        .collect();
    if !missing.is_empty() {
        run(
            "apt-get update",
            &["/usr/bin/apt-get".to_string(), "update".into()],
        )?;
        let mut argv = recipe.apt_command();
        argv.truncate(4);
        argv.extend(missing.iter().map(|s| (*s).clone()));
        run("installing packages", &argv)?;
        did.push(format!("installed {}", missing.len()));
    }
    let (mut ran, mut skipped) = (0, 0);
    for s in &recipe.steps {
        if env.fs.stat_beneath(root, &s.creates)?.is_some() {
            skipped += 1;
            continue;
        }
        run(&format!("step {}", s.name), &s.run)?;
        if env.fs.stat_beneath(root, &s.creates)?.is_none() {
            bail!(
                "recipe {}: step {} ran but did not create {}; see {log_path} in the jail",
                recipe.name,
                s.name,
                s.creates
            );
        }
        ran += 1;
    }
    did.push(format!("{ran} step(s) run, {skipped} already done"));
    if let Some(c) = recipe.check.as_ref().filter(|_| check) {
        run("the check", &c.run)?;
        did.push("check passed".into());
    }
    Ok(format!("recipe {}: {}", recipe.name, did.join(", ")))
}
