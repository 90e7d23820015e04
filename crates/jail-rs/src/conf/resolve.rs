//! Resolving one jail: globals, wildcard and own block, variables; the jail(8)-style view.

use super::ast::{AssignOp, Item, JailConf, Param, Part, Pos, Value};
use super::parse::perr;
use crate::error::{Error, Op, Result};
use std::collections::BTreeMap;
use sysabi::ErrorKind;

impl JailConf {
    /// The names of the jails the file defines (hierarchical for nested blocks), in order.
    pub fn jails(&self) -> Vec<String> {
        fn go(items: &[Item], prefix: &str, out: &mut Vec<String>) {
            for it in items {
                if let Item::Jail { name, items, .. } = it {
                    if name == "*" {
                        continue;
                    }
                    let full = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    out.push(full.clone());
                    go(items, &full, out);
                }
            }
        }
        let mut v = Vec::new();
        go(&self.items, "", &mut v);
        v
    }

    /// The effective parameters of jail `name`: globals, then `*` blocks, then the jail's own
    /// (its parents' blocks first for nested jails); variables expanded.
    ///
    /// # Errors
    /// An unknown jail, an undefined variable, or a variable that refers to itself.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        if !self.jails().iter().any(|j| j == name) {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::NotFound,
                format!("no jail {name:?} in this file"),
            ));
        }
        let mut params: Vec<&Param> = Vec::new();
        let global: Vec<&Param> = self
            .items
            .iter()
            .filter_map(|i| {
                if let Item::Param(p) = i {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        params.extend(global);
        for it in &self.items {
            if let Item::Jail { name: n, items, .. } = it {
                if n == "*" {
                    params.extend(items.iter().filter_map(|i| {
                        if let Item::Param(p) = i {
                            Some(p)
                        } else {
                            None
                        }
                    }));
                }
            }
        }
        // Walk down the nested blocks along the name.
        let mut level: &[Item] = &self.items;
        for comp in name.split('.') {
            let found = level.iter().find_map(|i| match i {
                Item::Jail { name: n, items, .. } if n == comp => Some(items),
                _ => None,
            });
            match found {
                Some(items) => {
                    params.extend(items.iter().filter_map(|i| {
                        if let Item::Param(p) = i {
                            Some(p)
                        } else {
                            None
                        }
                    }));
                    level = items;
                }
                None => {
                    // A dotted block name at the top (`a.b { }`) is the same jail.
                    if let Some(items) = self.items.iter().find_map(|i| match i {
                        Item::Jail { name: n, items, .. } if n == name => Some(items),
                        _ => None,
                    }) {
                        params.extend(items.iter().filter_map(|i| {
                            if let Item::Param(p) = i {
                                Some(p)
                            } else {
                                None
                            }
                        }));
                    }
                    break;
                }
            }
        }
        let mut map: Vec<(String, Vec<Value>, Pos)> = Vec::new();
        for p in params {
            let idx = map.iter().position(|(n, _, _)| *n == p.name);
            match (p.op, idx) {
                (AssignOp::Append, Some(i)) => map[i].1.extend(p.values.iter().cloned()),
                (AssignOp::Flag, Some(i)) => map[i] = (p.name.clone(), vec![], p.pos.clone()),
                (_, Some(i)) => map[i] = (p.name.clone(), p.values.clone(), p.pos.clone()),
                (_, None) => map.push((p.name.clone(), p.values.clone(), p.pos.clone())),
            }
        }
        let lookup: BTreeMap<String, (Vec<Value>, Pos)> = map
            .iter()
            .map(|(n, v, p)| (n.clone(), (v.clone(), p.clone())))
            .collect();
        let mut out = Vec::new();
        for (n, vals, pos) in &map {
            if n.starts_with('$') {
                continue;
            }
            let mut expanded = Vec::new();
            for v in vals {
                expanded.push(expand(v, name, &lookup, pos, 0)?);
            }
            out.push((
                n.clone(),
                if vals.is_empty() {
                    None
                } else {
                    Some(expanded)
                },
            ));
        }
        Ok(Resolved {
            name: name.into(),
            params: out,
        })
    }
}

fn expand(
    v: &Value,
    jail: &str,
    vars: &BTreeMap<String, (Vec<Value>, Pos)>,
    pos: &Pos,
    depth: usize,
) -> Result<String> {
    if depth > 16 {
        return Err(perr(pos, "variable refers to itself"));
    }
    let mut s = String::new();
    for p in &v.0 {
        match p {
            Part::Lit(l) => s.push_str(l),
            Part::Var(n) if n == "name" => s.push_str(jail),
            Part::Var(n) => {
                let (vals, _) = vars
                    .get(&format!("${n}"))
                    .or_else(|| vars.get(n))
                    .ok_or_else(|| perr(pos, format!("undefined variable ${n}")))?;
                let parts: Result<Vec<String>> = vals
                    .iter()
                    .map(|x| expand(x, jail, vars, pos, depth + 1))
                    .collect();
                s.push_str(&parts?.join(","));
            }
        }
    }
    Ok(s)
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
