//! Resolving jails as jail(8) does (usr.sbin/jail/config.c): globals, wildcard records and
//! the jail's own block in file order, then variables. Works on [`FlatConf`], one jail at a
//! time; [`JailConf`] resolves through it.

use super::ast::{AssignOp, Item, JailConf, Pos};
use super::flat::{FlatConf, Kind};
use super::parse::perr;
use crate::error::{Error, Op, Result};
use sysabi::ErrorKind;

/// `wild_jail_name` (config.c): a record is a wildcard when one of its components is exactly
/// `*` (`*`, `web.*`, `*.db`); `web*` is an ordinary name.
fn is_wild(name: &str) -> bool {
    name.split('.').any(|c| c == "*")
}

/// One value as jail(8)'s `quoted_print` writes it: in `"` when it is empty or holds a `'`, else
/// in `'` when it holds a `"`, else in `"` when it holds a space or tab, else bare; a backslash
/// and the quote character are escaped with a backslash.
#[must_use]
pub fn quote_value(s: &str) -> String {
    let qc = if s.is_empty() || s.contains('\'') {
        Some('"')
    } else if s.contains('"') {
        Some('\'')
    } else if s.contains([' ', '\t']) {
        Some('"')
    } else {
        None
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.extend(qc);
    for c in s.chars() {
        if c == '\\' || Some(c) == qc {
            out.push('\\');
        }
        out.push(c);
    }
    out.extend(qc);
    out
}

/// Whether a jail's name makes it a `jid` rather than a `name` (config.c `load_config`:
/// `strtol(j->name, &ep, 10) && !*ep`): after C's white space and an optional sign, only
/// decimal digits, at least one of them not 0. So `007`, `+5` and `-3` name a jid; `0`, `00`
/// and `5a` are names.
pub(crate) fn names_a_jid(name: &str) -> bool {
    let t = name.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.bytes().any(|b| b != b'0')
}

/// `wild_jail_match` (config.c): compared component by component, a non-final `*` component
/// matches one jail component and a final `*` matches one or more.
fn wild_match(jail: &str, wild: &str) -> bool {
    let (mut jc, mut wc) = (jail, wild);
    loop {
        match (jc.find('.'), wc.find('.')) {
            (Some(jd), Some(wd)) => {
                if jc[..=jd] != wc[..=wd] && !wc.starts_with("*.") {
                    return false;
                }
                jc = &jc[jd + 1..];
                wc = &wc[wd + 1..];
            }
            _ => return jc == wc || wc == "*",
        }
    }
}

/// config.c's `equalopts`: whether two parameter names are one parameter — equal, or equal
/// but for a `no` in front of the whole name or of any component after a common dotted
/// prefix (`allow.mount` and `allow.nomount`, `allow.nomount.zfs` and `allow.mount.zfs`,
/// `noallow.mount` and `allow.mount`); the last one written wins.
fn equalopts(o1: &str, o2: &str) -> bool {
    // Every way to be equal adds or drops exactly one `no`: lengths equal (then only equal
    // names) or two apart (the common case of different names is decided here).
    match o1.len().abs_diff(o2.len()) {
        0 => return same(o1, o2),
        2 => {}
        _ => return false,
    }
    let no = |a: &str, b: &str| a.strip_prefix("no") == Some(b);
    if no(o1, o2) || no(o2, o1) {
        return true;
    }
    let (mut a, mut b) = (o1, o2);
    while let Some(d) = a.find('.') {
        if !b.starts_with(&a[..=d]) {
            break;
        }
        b = &b[d + 1..];
        a = &a[d + 1..];
        if no(a, b) || no(b, a) {
            return true;
        }
    }
    false
}

/// jail(8)'s own table of parameters it knows (config.c `intparams`, those without
/// `PF_CONV`): a variable may not be named like one of them.
pub(super) const INTPARAMS: &[&str] = &[
    "allow.dying",
    "command",
    "depend",
    "exec.clean",
    "exec.consolelog",
    "exec.fib",
    "exec.jail_user",
    "exec.poststart",
    "exec.poststop",
    "exec.prepare",
    "exec.prestart",
    "exec.prestop",
    "exec.release",
    "exec.created",
    "exec.start",
    "exec.stop",
    "exec.system_jail_user",
    "exec.system_user",
    "exec.timeout",
    "interface",
    "ip_hostname",
    "mount",
    "mount.devfs",
    "mount.fdescfs",
    "mount.procfs",
    "mount.fstab",
    "stop.timeout",
    "vnet.interface",
    "zfs.dataset",
    "allow.chflags",
    "allow.mount",
    "allow.raw_sockets",
    "allow.set_hostname",
    "allow.socket_af",
    "allow.sysvipc",
    "devfs_ruleset",
    "host.hostname",
    "ip4.addr",
    "ip6.addr",
    "jid",
    "name",
    "path",
    "persist",
    "securelevel",
    "vnet",
];

/// Where a record's parameters are: the top-level ones (the `*` record jail(8) makes of
/// them) or the direct children of a block node.
#[derive(Debug, Clone, Copy)]
enum Own {
    Top,
    Block(usize),
}

/// A wildcard record (the top-level parameters are one, named `*`).
struct Wild {
    /// Its place among the records (jail(8) applies records in file order).
    ord: usize,
    name: String,
    params: Vec<usize>,
}

/// A value being collected: one of the file's, or the jail's own name (the implied `name`).
#[derive(Debug, Clone, Copy)]
enum Val {
    Name,
    Doc(u32),
}

/// A parameter's values: those appended earlier (rare), then the range of its last
/// assignment's (no allocation for the usual one assignment).
#[derive(Debug, Clone, Default)]
struct Vals {
    earlier: Vec<Val>,
    first: u32,
    count: u32,
}

impl Vals {
    fn iter(&self) -> impl Iterator<Item = Val> + '_ {
        self.earlier
            .iter()
            .copied()
            .chain((self.first..self.first + self.count).map(Val::Doc))
    }
    fn is_empty(&self) -> bool {
        self.earlier.is_empty() && self.count == 0
    }
    /// `=` (replace) or `+=` (append) of values `first..first + count`.
    fn assign(&mut self, append: bool, first: u32, count: u32) {
        if append {
            let (f, c) = (self.first, self.count);
            self.earlier.extend((f..f + c).map(Val::Doc));
        } else {
            self.earlier.clear();
        }
        self.first = first;
        self.count = count;
    }
}

/// Name comparison with the cheap checks first (most names differ in length or first byte).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// No node: the implied `name` parameter.
const NOWHERE: usize = usize::MAX;

/// A parameter being collected for one jail.
#[derive(Debug, Clone)]
struct Collected<'a> {
    name: &'a str,
    var: bool,
    immutable: bool,
    values: Vals,
    /// Its node (for error positions).
    node: usize,
}

impl FlatConf<'_> {
    /// The parameter nodes of a record, in file order.
    fn own_params(&self, own: Own, mut f: impl FnMut(usize) -> Result<()>) -> Result<()> {
        let (mut k, end) = match own {
            Own::Top => (0, self.nodes.len()),
            Own::Block(i) => (i + 1, self.nodes[i].a as usize),
        };
        while k < end {
            match self.nodes[k].kind() {
                Kind::Jail => k = self.nodes[k].a as usize,
                Kind::Param(_) => {
                    f(k)?;
                    k += 1;
                }
                _ => k += 1,
            }
        }
        Ok(())
    }

    /// jail(8)'s records in its order (config.c `load_config`): each block is a record with
    /// its dotted name (nested blocks are records of their own and inherit nothing from the
    /// enclosing block); the top-level parameters are one `*` record placed where the first
    /// of them appears (FreeBSD 14+); a block written twice is two records. `f` gets each
    /// block record's place, full name and node, and returns whether to go on.
    fn records(
        &self,
        mut f: impl FnMut(usize, &str, usize) -> Result<bool>,
    ) -> Result<Option<usize>> {
        struct Walk<'w, F> {
            ord: usize,
            global: Option<usize>,
            name: String,
            f: &'w mut F,
        }
        fn go<F: FnMut(usize, &str, usize) -> Result<bool>>(
            d: &FlatConf<'_>,
            start: usize,
            end: usize,
            top: bool,
            w: &mut Walk<'_, F>,
        ) -> Result<bool> {
            let mut k = start;
            while k < end {
                let n = &d.nodes[k];
                match n.kind() {
                    Kind::Param(_) if top => {
                        if w.global.is_none() {
                            w.global = Some(w.ord);
                            w.ord += 1;
                        }
                        k += 1;
                    }
                    Kind::Jail => {
                        let len = w.name.len();
                        if !w.name.is_empty() {
                            w.name.push('.');
                        }
                        w.name.push_str(d.str(n.name));
                        let ord = w.ord;
                        w.ord += 1;
                        if !(w.f)(ord, &w.name, k)? || !go(d, k + 1, n.a as usize, false, w)? {
                            return Ok(false);
                        }
                        w.name.truncate(len);
                        k = n.a as usize;
                    }
                    _ => k += 1,
                }
            }
            Ok(true)
        }
        let mut w = Walk {
            ord: 0,
            global: None,
            name: String::new(),
            f: &mut f,
        };
        go(self, 0, self.nodes.len(), true, &mut w)?;
        Ok(w.global)
    }

    /// The wildcard records in file order (resolving a jail visits only these and its own
    /// record: linear in the file, not quadratic).
    fn wilds(&self) -> Result<Vec<Wild>> {
        let mut out = Vec::new();
        let global = self.records(|ord, name, k| {
            if is_wild(name) {
                let mut params = Vec::new();
                self.own_params(Own::Block(k), |p| {
                    params.push(p);
                    Ok(())
                })?;
                out.push(Wild {
                    ord,
                    name: name.to_string(),
                    params,
                });
            }
            Ok(true)
        })?;
        if let Some(ord) = global {
            let mut params = Vec::new();
            self.own_params(Own::Top, |p| {
                params.push(p);
                Ok(())
            })?;
            out.push(Wild {
                ord,
                name: "*".into(),
                params,
            });
            out.sort_by_key(|w| w.ord);
        }
        Ok(out)
    }

    /// The names of the jails the file defines (hierarchical for nested blocks), in file
    /// order; a block written twice is listed twice, as jail(8) creates it twice.
    pub fn jails(&self) -> Vec<String> {
        let mut out = Vec::new();
        let _ = self.records(|_, name, _| {
            if !is_wild(name) {
                out.push(name.to_string());
            }
            Ok(true)
        });
        out
    }

    /// Resolves every jail record in file order (duplicates kept), handing each to `f` and
    /// dropping it after: memory stays at the file's own plus one jail, whatever the number
    /// of jails. Stops at the first error, of resolving or of `f`.
    ///
    /// # Errors
    /// The first record that does not resolve (see [`JailConf::resolve`]), or `f`'s.
    pub fn resolve_each(&self, mut f: impl FnMut(Resolved) -> Result<()>) -> Result<()> {
        let wilds = self.wilds()?;
        self.records(|ord, name, k| {
            if !is_wild(name) {
                f(self.resolve_record(&wilds, ord, name, k)?)?;
            }
            Ok(true)
        })?;
        Ok(())
    }

    /// Every jail record resolved, in file order (see [`FlatConf::resolve_each`]).
    ///
    /// # Errors
    /// The first record that does not resolve.
    pub fn resolve_all(&self) -> Result<Vec<Resolved>> {
        let mut out = Vec::new();
        self.resolve_each(|r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// The effective parameters of jail `name` (its first record); see
    /// [`JailConf::resolve`].
    ///
    /// # Errors
    /// As [`JailConf::resolve`].
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        let wilds = self.wilds()?;
        let mut got = None;
        if !is_wild(name) {
            self.records(|ord, n, k| {
                if n == name {
                    got = Some(self.resolve_record(&wilds, ord, n, k));
                    return Ok(false);
                }
                Ok(true)
            })?;
        }
        got.unwrap_or_else(|| {
            Err(Error::new(
                Op::Validate,
                ErrorKind::NotFound,
                format!("no jail {name:?} in this file"),
            ))
        })
    }

    fn node_pos(&self, node: usize) -> Pos {
        if node == NOWHERE {
            Pos::default()
        } else {
            self.pos(&self.nodes[node])
        }
    }

    fn add<'a>(&'a self, out: &mut Vec<Collected<'a>>, k: usize) -> Result<()> {
        let n = &self.nodes[k];
        let Kind::Param(op) = n.kind() else {
            return Ok(());
        };
        let pname = self.str(n.name);
        let var = pname.starts_with('$');
        let bare = pname.trim_start_matches('$');
        // add_param: the first collected parameter `equalopts` finds (variables are compared
        // by their names without `$`, as jail(8) keeps them).
        let found = out
            .iter()
            .position(|c| equalopts(c.name.trim_start_matches('$'), bare));
        match found {
            Some(i) => {
                let c = &mut out[i];
                if c.var != var {
                    return Err(perr(
                        &self.node_pos(k),
                        format!("variable \"${bare}\" cannot have the same name as a parameter."),
                    ));
                }
                if c.immutable {
                    return Err(perr(
                        &self.node_pos(k),
                        format!("cannot redefine parameter \"{}\".", c.name),
                    ));
                }
                c.name = pname;
                c.values.assign(op == AssignOp::Append && n.b > 0, n.a, n.b);
                c.node = k;
            }
            None if var && INTPARAMS.iter().any(|ip| equalopts(bare, ip)) => {
                // add_param: a new variable named like one of jail(8)'s own parameters.
                return Err(perr(
                    &self.node_pos(k),
                    format!("variable \"${bare}\" cannot have the same name as a parameter."),
                ));
            }
            None => out.push(Collected {
                name: pname,
                var,
                immutable: false,
                values: Vals {
                    earlier: Vec::new(),
                    first: n.a,
                    count: n.b,
                },
                node: k,
            }),
        }
        Ok(())
    }

    fn resolve_record<'a>(
        &'a self,
        wilds: &[Wild],
        me: usize,
        name: &str,
        k: usize,
    ) -> Result<Resolved> {
        let mut params: Vec<Collected<'a>> = Vec::new();
        // The name implies `name` (or `jid` for a number), which may not be set again.
        let implied = if names_a_jid(name) { "jid" } else { "name" };
        params.push(Collected {
            name: implied,
            var: false,
            immutable: true,
            values: Vals {
                earlier: vec![Val::Name],
                first: 0,
                count: 0,
            },
            node: NOWHERE,
        });
        let mut did_self = false;
        let own = |params: &mut Vec<Collected<'a>>| {
            self.own_params(Own::Block(k), |p| self.add(params, p))
        };
        for w in wilds {
            if me < w.ord && !did_self {
                own(&mut params)?;
                did_self = true;
            }
            if wild_match(name, &w.name) {
                for &p in &w.params {
                    self.add(&mut params, p)?;
                }
            }
        }
        if !did_self {
            own(&mut params)?;
        }
        let mut resolved: Vec<Option<Vec<String>>> = Vec::with_capacity(params.len());
        let mut stack = Vec::new();
        for c in &params {
            if c.var {
                // jail(8) substitutes in variables too, used or not: a missing name or a
                // loop there fails the jail as well.
                let mut sink = Vec::new();
                for v in c.values.iter() {
                    self.expand(name, v, &params, c.node, &mut stack, &mut sink)?;
                }
                resolved.push(None);
                continue;
            }
            let vals = if c.values.is_empty() {
                None
            } else {
                let mut vals = Vec::with_capacity(1);
                for v in c.values.iter() {
                    self.expand(name, v, &params, c.node, &mut stack, &mut vals)?;
                }
                Some(vals)
            };
            resolved.push(vals);
        }
        let out = self
            .substitution_order(&params)
            .into_iter()
            .filter(|&i| !params[i].var)
            .map(|i| (params[i].name.to_string(), resolved[i].take()))
            .collect();
        Ok(Resolved {
            name: name.to_string(),
            params: out,
        })
    }

    /// The order jail(8) leaves a jail's parameters in after substituting variables
    /// (config.c `load_config`): walking the list, a parameter that refers to one whose
    /// values still hold variables moves that one in front of itself and resolves it first,
    /// so `host.hostname = "${path}.x"; path = "/j/$name";` comes out as `path`, then
    /// `host.hostname` (what `jail -e` prints). Loops and missing names were reported by
    /// [`FlatConf::expand`] already.
    fn substitution_order(&self, params: &[Collected<'_>]) -> Vec<usize> {
        let has_vars = |c: &Collected<'_>| {
            c.values.iter().any(|v| match v {
                Val::Doc(v) => self.value(v).iter().any(|p| p.is_var()),
                Val::Name => false,
            })
        };
        let mut pending: Vec<bool> = params.iter().map(has_vars).collect();
        let mut order: Vec<usize> = (0..params.len()).collect();
        if !pending.iter().any(|&p| p) {
            return order;
        }
        // The first parameter `p` refers to that still holds variables.
        let first_pending = |p: usize, pending: &[bool]| {
            for v in params[p].values.iter() {
                let Val::Doc(v) = v else { continue };
                for part in self.value(v).iter().filter(|x| x.is_var()) {
                    let n = self.str(*part);
                    let vp = params.iter().position(|c| {
                        same(c.name.trim_start_matches('$'), n) && !c.values.is_empty()
                    });
                    if let Some(vp) = vp.filter(|&vp| vp != p && pending[vp]) {
                        return Some(vp);
                    }
                }
            }
            None
        };
        let mut i = 0;
        // Each move puts a pending parameter in front, each step resolves one: bounded.
        let mut steps = 0;
        while i < order.len() && steps < 4 * params.len() * params.len() + 16 {
            steps += 1;
            let p = order[i];
            match first_pending(p, &pending).and_then(|vp| order.iter().position(|&o| o == vp)) {
                Some(at) if at > i => {
                    let vp = order.remove(at);
                    order.insert(i, vp);
                }
                _ => {
                    pending[p] = false;
                    i += 1;
                }
            }
        }
        order
    }

    /// Expands the variables of one value into `out` (config.c's substitution loop): a
    /// variable names any parameter or variable of the jail; one holding a list may only
    /// stand alone.
    fn expand<'a>(
        &'a self,
        jail: &str,
        v: Val,
        params: &[Collected<'a>],
        node: usize,
        stack: &mut Vec<&'a str>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        let Val::Doc(v) = v else {
            out.push(jail.to_string());
            return Ok(());
        };
        let parts = self.value(v);
        if let [p] = parts {
            if !p.is_var() {
                out.push(self.str(*p).to_string());
                return Ok(());
            }
        }
        let vars = parts.iter().filter(|p| p.is_var()).count();
        let mut s = String::new();
        for &part in parts {
            if !part.is_var() {
                s.push_str(self.str(part));
                continue;
            }
            let n = self.str(part);
            let Some(c) = params
                .iter()
                .find(|c| same(c.name.trim_start_matches('$'), n) && !c.values.is_empty())
            else {
                return Err(perr(
                    &self.node_pos(node),
                    format!("variable \"{n}\" not found"),
                ));
            };
            if stack.contains(&n) {
                return Err(perr(&self.node_pos(node), format!("{n}: variable loop")));
            }
            stack.push(n);
            let before = out.len();
            for x in c.values.iter() {
                self.expand(jail, x, params, c.node, stack, out)?;
            }
            stack.pop();
            let got = out.len() - before;
            if got > 1 {
                if parts.len() == 1 && vars == 1 {
                    return Ok(());
                }
                return Err(perr(
                    &self.node_pos(node),
                    format!("${n}: array cannot be substituted inline"),
                ));
            }
            if got == 1 {
                if let Some(g) = out.pop() {
                    s.push_str(&g);
                }
            }
        }
        out.push(s);
        Ok(())
    }
}

impl JailConf {
    /// The names of the jails the file defines (hierarchical for nested blocks), in file
    /// order; a block written twice is listed twice, as jail(8) creates it twice.
    pub fn jails(&self) -> Vec<String> {
        fn go(items: &[Item], prefix: &str, out: &mut Vec<String>) {
            for it in items {
                if let Item::Jail { name, items, .. } = it {
                    let full = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    if !is_wild(&full) {
                        out.push(full.clone());
                    }
                    go(items, &full, out);
                }
            }
        }
        let mut out = Vec::new();
        go(&self.items, "", &mut out);
        out
    }

    /// Every jail record of the file, resolved as jail(8) resolves it (`jail -e` shows the
    /// same): in file order, duplicates kept.
    ///
    /// # Errors
    /// The first record that does not resolve (see [`JailConf::resolve`]).
    pub fn resolve_all(&self) -> Result<Vec<Resolved>> {
        FlatConf::from_conf(self)?.resolve_all()
    }

    /// The effective parameters of jail `name` (its first record), as jail(8) collects them
    /// (config.c `load_config`): its `name` (or `jid` for a numeric name); the wildcard
    /// records (`*`, `"web.*"`, the top-level parameters) and its own block in file order; a
    /// later assignment replaces an earlier one (`+=` appends; `allow.noX` and `allow.X` are
    /// one parameter); nested blocks inherit nothing from the enclosing block. Then variables
    /// are expanded: `$name`, `${path}` and `$var` refer to any parameter or variable of the
    /// jail.
    ///
    /// # Errors
    /// An unknown jail; a variable that is not set (or is empty), refers to itself, or holds
    /// a list used inside a longer string; a variable named like a parameter; `name` or `jid`
    /// set again. Each with `file:line:column`.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        FlatConf::from_conf(self)?.resolve(name)
    }
}

/// A jail's effective parameters: `None` values are boolean flags (`persist;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The jail.
    pub name: String,
    /// Parameters in first-seen order.
    pub params: Vec<(String, Option<Vec<String>>)>,
}

/// jail(8)'s own parameters: they drive jail(8) and never reach the kernel.
pub const JAIL8_PARAMS: &[&str] = &[
    "exec.prepare",
    "exec.prestart",
    "exec.created",
    "exec.start",
    "command",
    "exec.poststart",
    "exec.prestop",
    "exec.stop",
    "exec.poststop",
    "exec.release",
    "exec.clean",
    "exec.jail_user",
    "exec.system_jail_user",
    "exec.system_user",
    "exec.timeout",
    "exec.consolelog",
    "exec.fib",
    "stop.timeout",
    "interface",
    "ip_hostname",
    "mount",
    "mount.fstab",
    "mount.devfs",
    "mount.fdescfs",
    "mount.procfs",
    "allow.dying",
    "depend",
    "vnet.interface",
    "zfs.dataset",
];

/// jail(8)'s own parameters of a jail (`exec.*`, `mount.*`, …) with their values.
pub type Jail8Params = Vec<(String, Vec<String>)>;

impl Resolved {
    /// The jail as `jail -e SEP` prints it (jail.c `show_jails` → `print_jail`, not running):
    /// every parameter but `jid`, as `name=value` with each value quoted as `quoted_print`
    /// quotes it ([`quote_value`]) and list values joined by `,`, a parameter without a value
    /// as its name, separated by `sep`.
    #[must_use]
    pub fn exhibit(&self, sep: &str) -> String {
        let mut out = String::new();
        for (n, v) in self.params.iter().filter(|(n, _)| n != "jid") {
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(n);
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                out.push('=');
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote_value(s));
                }
            }
        }
        out
    }

    /// Splits into the kernel parameters, typed into a [`crate::JailSpec`], and jail(8)'s own.
    ///
    /// # Errors
    /// All problems at once, naming each parameter: unknown ones, values of the wrong type, a
    /// missing or bad `path` or name. Nothing is created by this call.
    pub fn to_spec(&self) -> Result<(crate::JailSpec, Jail8Params)> {
        use crate::types::{param_def, JailName, JailSys, ParamType, ParamValue};
        let mut problems = Vec::new();
        let name = JailName::new(&self.name)
            .map_err(|e| problems.push(e.to_string()))
            .ok();
        let mut path = None;
        let mut kernel = Vec::new();
        let mut jail8 = Vec::new();
        for (n, v) in &self.params {
            if n == "path" {
                path = v.as_ref().and_then(|v| v.first().cloned());
                continue;
            }
            if n == "name" {
                continue;
            }
            if JAIL8_PARAMS.contains(&n.as_str()) || n.starts_with("exec.") {
                jail8.push((n.clone(), v.clone().unwrap_or_default()));
                continue;
            }
            let Some((def, _)) = param_def(n) else {
                problems.push(format!("{n}: unknown parameter"));
                continue;
            };
            let one = || {
                v.as_ref()
                    .and_then(|v| v.first())
                    .cloned()
                    .unwrap_or_default()
            };
            let value = match (def.ty, v) {
                (ParamType::Bool, None) => Some(ParamValue::Bool(true)),
                (ParamType::Bool, Some(v)) => match v.first().map(String::as_str) {
                    Some("true" | "1" | "yes") => Some(ParamValue::Bool(true)),
                    Some("false" | "0" | "no") => Some(ParamValue::Bool(false)),
                    _ => None,
                },
                (ParamType::Int | ParamType::UInt | ParamType::ULong, Some(_)) => {
                    one().parse().ok().map(ParamValue::Int)
                }
                (ParamType::String(_), Some(_)) => Some(ParamValue::Str(one())),
                (ParamType::JailSys, Some(_)) => one().parse::<JailSys>().ok().map(ParamValue::Sys),
                (ParamType::JailSys, None) => Some(ParamValue::Sys(JailSys::New)),
                (ParamType::Ip4List, Some(v)) => v
                    .iter()
                    .map(|a| a.split('/').next().unwrap_or("").trim().parse().ok())
                    .collect::<Option<Vec<_>>>()
                    .map(ParamValue::Ip4),
                (ParamType::Ip6List, Some(v)) => v
                    .iter()
                    .map(|a| a.split('/').next().unwrap_or("").trim().parse().ok())
                    .collect::<Option<Vec<_>>>()
                    .map(ParamValue::Ip6),
                _ => None,
            };
            match value {
                Some(val) => kernel.push((n.clone(), val)),
                None => problems.push(format!(
                    "{n}: value {:?} does not fit {:?}",
                    v.as_ref().map(|v| v.join(",")),
                    def.ty
                )),
            }
        }
        let Some(path) = path else {
            problems.push("path: missing".into());
            return Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            );
        };
        let Some(name) = name else {
            return Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            );
        };
        let mut spec = crate::JailSpec::new(name, path);
        for (n, v) in kernel {
            spec = spec.param(&n, v);
        }
        if let Err(e) = spec.validate() {
            problems.push(e.detail_str().unwrap_or("invalid").to_string());
        }
        if problems.is_empty() {
            Ok((spec, jail8))
        } else {
            Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_c_rules_for_names() {
        // wild_jail_name: a `*` component, not any `*`.
        for w in ["*", "web.*", "*.db", "a.*.c"] {
            assert!(is_wild(w), "{w}");
        }
        for n in ["web*", "*web", "a.b*", "web"] {
            assert!(!is_wild(n), "{n}");
        }
        // equalopts: `no` in front of the whole name or of a component after a common prefix.
        for (a, b) in [
            ("allow.mount", "allow.nomount"),
            ("allow.nomount.zfs", "allow.mount.zfs"),
            ("noallow.mount", "allow.mount"),
            ("persist", "nopersist"),
            ("path", "path"),
        ] {
            assert!(equalopts(a, b) && equalopts(b, a), "{a} {b}");
        }
        for (a, b) in [
            ("allow.mount", "allow.mount.zfs"),
            ("allow.mount", "allow.raw_sockets"),
            ("nonsense", "sense.x"),
            ("mount.devfs", "mount.nofdescfs"),
        ] {
            assert!(!equalopts(a, b) && !equalopts(b, a), "{a} {b}");
        }
    }
}
