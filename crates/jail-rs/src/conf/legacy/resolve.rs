//! (The resolver before FlatConf, for the differential tests.) Resolving one jail: globals, wildcard and own block, variables; the jail(8)-style view.

use super::parse::perr;
use crate::conf::ast::{AssignOp, Item, JailConf, Param, Part, Pos, Value};
use crate::conf::Resolved;
use crate::error::Result;

/// One jail record as jail(8) collects them (usr.sbin/jail/config.c, `load_config`): a block's
/// own parameters in file order; nested blocks are records of their own with the dotted name
/// (they inherit nothing from the enclosing block); the top-level parameters are one `*`
/// record, placed where the first of them appears (FreeBSD 14+); a block written twice is two
/// records.
#[derive(Debug, Clone)]
struct Record<'a> {
    name: String,
    params: Vec<&'a Param>,
}

/// `wild_jail_name`: a record whose name holds `*` applies to the jails it matches.
fn is_wild(name: &str) -> bool {
    name.contains('*')
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

/// What makes two parameter names one parameter (config.c's `equalopts`, computed once per
/// name): the prefix and the last component without a `no` (`allow.mount` and `allow.nomount`
/// are one parameter; the last written wins).
fn param_key(n: &str) -> (&str, &str) {
    let (pre, last) = n.rsplit_once('.').map_or(("", n), |(p, l)| (p, l));
    (pre, last.strip_prefix("no").unwrap_or(last))
}

/// A parameter being collected for one jail.
#[derive(Debug, Clone)]
struct Collected<'a> {
    name: &'a str,
    /// [`param_key`] of the name.
    key: (&'a str, &'a str),
    var: bool,
    immutable: bool,
    values: Vec<&'a Value>,
    pos: &'a Pos,
}

/// The tree resolver before FlatConf, kept as the differential tests' oracle.
pub(in crate::conf) struct Old<'c>(pub &'c JailConf);

impl Old<'_> {
    fn records(&self) -> Vec<Record<'_>> {
        fn walk<'a>(
            items: &'a [Item],
            prefix: &str,
            top: bool,
            out: &mut Vec<Record<'a>>,
            global: &mut Option<usize>,
        ) {
            for it in items {
                match it {
                    Item::Param(p) if top => {
                        let i = *global.get_or_insert_with(|| {
                            out.push(Record {
                                name: "*".into(),
                                params: Vec::new(),
                            });
                            out.len() - 1
                        });
                        out[i].params.push(p);
                    }
                    Item::Jail { name, items, .. } => {
                        let full = if prefix.is_empty() {
                            name.clone()
                        } else {
                            format!("{prefix}.{name}")
                        };
                        out.push(Record {
                            name: full.clone(),
                            params: items
                                .iter()
                                .filter_map(|i| match i {
                                    Item::Param(p) => Some(p),
                                    _ => None,
                                })
                                .collect(),
                        });
                        walk(items, &full, false, out, global);
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0.items, "", true, &mut out, &mut None);
        out
    }

    /// Every jail record of the file, resolved as jail(8) resolves it (`jail -e` shows the
    /// same): in file order, duplicates kept.
    ///
    /// # Errors
    /// The first record that does not resolve (see [`JailConf::resolve`]).
    pub fn resolve_all(&self) -> Result<Vec<Resolved>> {
        let recs = self.records();
        let wilds = wild_records(&recs);
        (0..recs.len())
            .filter(|i| !is_wild(&recs[*i].name))
            .map(|i| resolve_record(&recs, &wilds, i))
            .collect()
    }
}

/// The indices of the wildcard records, in file order (resolving a jail visits only these and
/// its own record: linear in the file, not quadratic).
fn wild_records(recs: &[Record<'_>]) -> Vec<usize> {
    (0..recs.len())
        .filter(|i| is_wild(&recs[*i].name))
        .collect()
}

fn add<'a>(out: &mut Vec<Collected<'a>>, p: &'a Param) -> Result<()> {
    let var = p.name.starts_with('$');
    let bare = p.name.trim_start_matches('$');
    let key = param_key(&p.name);
    let found = out
        .iter()
        .position(|c| c.name.trim_start_matches('$') == bare || (!var && !c.var && c.key == key));
    match found {
        Some(i) => {
            let c = &mut out[i];
            if c.var != var {
                return Err(perr(
                    &p.pos,
                    format!("variable \"${bare}\" cannot have the same name as a parameter."),
                ));
            }
            if c.immutable {
                return Err(perr(
                    &p.pos,
                    format!("cannot redefine parameter \"{}\".", c.name),
                ));
            }
            c.name = &p.name;
            c.key = key;
            if p.op != AssignOp::Append || p.values.is_empty() {
                c.values.clear();
            }
            c.values.extend(p.values.iter());
            c.pos = &p.pos;
        }
        // A deliberate change carried into the oracle: a new variable named like one of
        // jail(8)'s own parameters is an error (config.c add_param).
        None if var
            && crate::conf::resolve::INTPARAMS
                .iter()
                .any(|ip| param_key(ip) == param_key(bare)) =>
        {
            return Err(perr(
                &p.pos,
                format!("variable \"${bare}\" cannot have the same name as a parameter."),
            ));
        }
        None => out.push(Collected {
            name: &p.name,
            key,
            var,
            immutable: false,
            values: p.values.iter().collect(),
            pos: &p.pos,
        }),
    }
    Ok(())
}

/// A deliberate change carried into the oracle, written out from config.c's loop: walking
/// the list, a parameter that refers to one whose values still hold variables has that one
/// moved in front of itself and handled first. (Loops were reported by `expand` already.)
fn jail8_order(params: &[Collected<'_>]) -> Vec<usize> {
    let vars_of = |c: &Collected<'_>| -> Vec<String> {
        c.values
            .iter()
            .flat_map(|v| v.0.iter())
            .filter_map(|p| match p {
                Part::Var(n) => Some(n.clone()),
                Part::Lit(_) => None,
            })
            .collect()
    };
    let mut list: Vec<usize> = (0..params.len()).collect();
    let mut done = vec![false; params.len()];
    let mut i = 0;
    while i < list.len() {
        let p = list[i];
        let first = vars_of(&params[p]).into_iter().find_map(|n| {
            let vp = params
                .iter()
                .position(|c| c.name.trim_start_matches('$') == n && !c.values.is_empty())?;
            (vp != p && !done[vp] && !vars_of(&params[vp]).is_empty()).then_some(vp)
        });
        match first.and_then(|vp| list.iter().position(|&x| x == vp)) {
            Some(at) if at > i => {
                let vp = list.remove(at);
                list.insert(i, vp);
            }
            _ => {
                done[p] = true;
                i += 1;
            }
        }
    }
    list
}

fn resolve_record(recs: &[Record<'_>], wilds: &[usize], me: usize) -> Result<Resolved> {
    let name = recs[me].name.clone();
    let own = Value::lit(&name);
    let nowhere = Pos::default();
    let mut params: Vec<Collected<'_>> = Vec::new();
    // The name implies `name` (or `jid` for a number), which may not be set again.
    let implied = if crate::conf::resolve::names_a_jid(&name) {
        "jid"
    } else {
        "name"
    };
    params.push(Collected {
        name: implied,
        key: param_key(implied),
        var: false,
        immutable: true,
        values: vec![&own],
        pos: &nowhere,
    });
    let mut did_self = false;
    for &i in wilds {
        let w = &recs[i];
        if me < i && !did_self {
            for p in &recs[me].params {
                add(&mut params, p)?;
            }
            did_self = true;
        }
        if wild_match(&name, &w.name) {
            for p in &w.params {
                add(&mut params, p)?;
            }
        }
    }
    if !did_self {
        for p in &recs[me].params {
            add(&mut params, p)?;
        }
    }
    let mut vals_of = Vec::new();
    for c in &params {
        let mut vals = Vec::new();
        for v in &c.values {
            vals.extend(expand(v, &params, c.pos, &mut Vec::new())?);
        }
        // A deliberate change carried into the oracle: jail(8) substitutes in variables
        // too, used or not (config.c load_config), so their errors count.
        vals_of.push(if c.values.is_empty() {
            None
        } else {
            Some(vals)
        });
    }
    let out = jail8_order(&params)
        .into_iter()
        .filter(|&i| !params[i].var)
        .map(|i| (params[i].name.to_string(), vals_of[i].take()))
        .collect();
    Ok(Resolved { name, params: out })
}

/// Expands the variables of one value (config.c's substitution loop): a variable names any
/// parameter or variable of the jail; one holding a list may only stand alone.
fn expand(
    v: &Value,
    params: &[Collected],
    pos: &Pos,
    stack: &mut Vec<String>,
) -> Result<Vec<String>> {
    let vars = v.0.iter().filter(|p| matches!(p, Part::Var(_))).count();
    let mut s = String::new();
    for part in &v.0 {
        match part {
            Part::Lit(l) => s.push_str(l),
            Part::Var(n) => {
                let Some(c) = params
                    .iter()
                    .find(|c| c.name.trim_start_matches('$') == n.as_str() && !c.values.is_empty())
                else {
                    return Err(perr(pos, format!("variable \"{n}\" not found")));
                };
                if stack.contains(n) {
                    return Err(perr(pos, format!("{n}: variable loop")));
                }
                stack.push(n.clone());
                let mut got = Vec::new();
                for x in &c.values {
                    got.extend(expand(x, params, c.pos, stack)?);
                }
                stack.pop();
                if got.len() > 1 {
                    if v.0.len() == 1 && vars == 1 {
                        return Ok(got);
                    }
                    return Err(perr(
                        pos,
                        format!("${n}: array cannot be substituted inline"),
                    ));
                }
                s.push_str(got.first().map_or("", String::as_str));
            }
        }
    }
    Ok(vec![s])
}
