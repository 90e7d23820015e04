//! [`FlatConf`]: a jail.conf read in place. The parser's only output: names, values and
//! comments are spans of the text (only strings with escapes are copied), the items are one
//! flat array in file order, and positions are byte offsets turned into `line:column` only
//! when something is reported. [`JailConf`] (the owned tree for editing) is built from it.

use super::ast::{AssignOp, Item, JailConf, Param, Part, Pos, Value};
use std::sync::Arc;

/// The part is a variable reference (`$name`, `${name}`): the span is the name.
const VAR: u32 = 1 << 31;
/// The span is in [`FlatConf::side`] rather than the text.
const SIDE: u32 = 1 << 30;
const LEN: u32 = SIDE - 1;

/// A string of the file: `start` and a length whose top bits are [`VAR`] and [`SIDE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Text `s..e` (the caller keeps offsets below [`super::MAX_CONF_BYTES`]).
    pub(super) fn text(s: usize, e: usize) -> Span {
        Span {
            start: s as u32,
            len: (e - s) as u32,
        }
    }
    pub(super) fn side(s: usize, len: usize) -> Span {
        Span {
            start: s as u32,
            len: len as u32 | SIDE,
        }
    }
    pub(super) fn var(self) -> Span {
        Span {
            start: self.start,
            len: self.len | VAR,
        }
    }
    pub(super) fn is_var(self) -> bool {
        self.len & VAR != 0
    }
    pub(super) fn is_side(self) -> bool {
        self.len & SIDE != 0
    }
    pub(super) fn start(self) -> usize {
        self.start as usize
    }
    pub(super) fn len(self) -> usize {
        (self.len & LEN) as usize
    }
    pub(super) fn end(self) -> usize {
        self.start() + self.len()
    }
    pub(super) fn grow(&mut self, by: usize) {
        self.len += by as u32;
    }
}

/// What a [`Node`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `name` is the comment as written.
    Comment,
    /// `name` is the parameter's name (`$x` for a variable); `a`, `b`: first value, count.
    Param(AssignOp),
    /// `name` is the block's name; `a`: the node after the block's last one.
    Jail,
    /// `a`: the pattern's value.
    Include,
}

/// One item, 20 bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) name: Span,
    pub(super) a: u32,
    pub(super) b: u32,
    /// The position (a byte offset into the text, or, built from a [`JailConf`], an index
    /// into `poses`; below 2^28 either way) shifted left 4, and the [`Kind`] in the low bits.
    tag: u32,
}

impl Node {
    pub(super) fn new(kind: Kind, name: Span, a: u32, b: u32, pos: u32) -> Node {
        debug_assert!(pos < 1 << 28);
        let k = match kind {
            Kind::Comment => 0,
            Kind::Param(AssignOp::Flag) => 1,
            Kind::Param(AssignOp::Set) => 2,
            Kind::Param(AssignOp::Append) => 3,
            Kind::Jail => 4,
            Kind::Include => 5,
        };
        Node {
            name,
            a,
            b,
            tag: pos << 4 | k,
        }
    }
    pub(super) fn kind(&self) -> Kind {
        match self.tag & 15 {
            0 => Kind::Comment,
            1 => Kind::Param(AssignOp::Flag),
            2 => Kind::Param(AssignOp::Set),
            3 => Kind::Param(AssignOp::Append),
            4 => Kind::Jail,
            _ => Kind::Include,
        }
    }
    pub(super) fn pos(&self) -> u32 {
        self.tag >> 4
    }
}

/// A jail.conf parsed in place: what [`JailConf::parse`] builds on, and the fast way to
/// resolve or print a large file. It borrows the text; its own memory is about 24 bytes per
/// item, 8 per value part and 4 per value (a 40,000-jail file of 4 MB takes about 1.4 times
/// its size besides the text).
///
/// ```
/// use jail::conf::FlatConf;
/// let text = "path = \"/jails/$name\";\nweb { ip4.addr = 192.0.2.1; persist; }\n";
/// let c = FlatConf::parse(text, "jail.conf").unwrap();
/// let mut seen = Vec::new();
/// c.resolve_each(|r| {
///     seen.push(r.exhibit(" "));
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(seen, ["name=web path=/jails/web ip4.addr=192.0.2.1 persist"]);
/// ```
///
/// # References
/// [jail.conf(5)](https://man.freebsd.org/cgi/man.cgi?query=jail.conf&sektion=5)
#[derive(Debug, Clone)]
pub struct FlatConf<'t> {
    pub(super) text: &'t str,
    pub(super) file: Arc<str>,
    /// Strings that are not one span of the text: those with escapes or joined from several
    /// quoted pieces, and everything of a doc built from a [`JailConf`].
    pub(super) side: String,
    /// The items in file order; a block's items follow it.
    pub(super) nodes: Vec<Node>,
    /// The first part of each value, then `parts.len()`: value `k` is
    /// `parts[vals[k]..vals[k + 1]]`.
    pub(super) vals: Vec<u32>,
    pub(super) parts: Vec<Span>,
    /// Positions, when built from a [`JailConf`] (then [`Node::pos`] indexes it).
    pub(super) poses: Vec<Pos>,
}

/// A running `line:column` for offsets visited in increasing order.
pub(super) struct Cursor {
    off: usize,
    line: usize,
    col: usize,
}

impl Cursor {
    pub(super) fn new() -> Cursor {
        Cursor {
            off: 0,
            line: 1,
            col: 1,
        }
    }
    /// Moves to `to` (not before the cursor) and returns its line and column (columns in
    /// characters, as jail(8) and editors count them).
    pub(super) fn at(&mut self, text: &str, to: usize) -> (usize, usize) {
        let to = to.min(text.len());
        if to < self.off {
            *self = Cursor::new();
        }
        let seg = &text.as_bytes()[self.off..to];
        match seg.iter().rposition(|&b| b == b'\n') {
            Some(nl) => {
                self.line += seg.iter().filter(|&&b| b == b'\n').count();
                self.col = 1 + count_chars(&seg[nl + 1..]);
            }
            None => self.col += count_chars(seg),
        }
        self.off = to;
        (self.line, self.col)
    }
}

/// Characters in UTF-8 bytes (a slice of the text between character boundaries).
fn count_chars(b: &[u8]) -> usize {
    b.iter().filter(|&&c| (c as i8) >= -0x40).count()
}

impl<'t> FlatConf<'t> {
    pub(super) fn empty(text: &'t str, file: &str) -> FlatConf<'t> {
        FlatConf {
            text,
            file: file.into(),
            side: String::new(),
            nodes: Vec::new(),
            vals: Vec::new(),
            parts: Vec::new(),
            poses: Vec::new(),
        }
    }

    /// The string a span names.
    pub(super) fn str(&self, s: Span) -> &str {
        if s.is_side() {
            &self.side[s.start()..s.end()]
        } else {
            &self.text[s.start()..s.end()]
        }
    }

    /// The parts of value `v`.
    pub(super) fn value(&self, v: u32) -> &[Span] {
        let v = v as usize;
        &self.parts[self.vals[v] as usize..self.vals[v + 1] as usize]
    }

    /// The position of node `n` (slow for text: it counts lines from the start; for errors).
    pub(super) fn pos(&self, n: &Node) -> Pos {
        self.item_pos(n, &mut Cursor::new())
    }

    /// The position of byte `off` of the text, counted from `cur` onwards.
    fn pos_from(&self, off: usize, cur: &mut Cursor) -> Pos {
        let (line, col) = cur.at(self.text, off);
        Pos {
            file: self.file.clone(),
            line,
            col,
        }
    }

    /// The position of byte `off` of the text.
    pub(super) fn pos_at(&self, off: usize) -> Pos {
        self.pos_from(off, &mut Cursor::new())
    }

    /// The position of node `n`: from `poses` when built from a tree, else its offset
    /// counted from `cur` (nodes visited in file order share one cursor).
    fn item_pos(&self, n: &Node, cur: &mut Cursor) -> Pos {
        match self.poses.get(n.pos() as usize) {
            Some(p) => p.clone(),
            None => self.pos_from(n.pos() as usize, cur),
        }
    }

    /// Value `v` as the owned [`Value`].
    pub(super) fn owned_value(&self, v: u32) -> Value {
        let mut out = Value::default();
        for &p in self.value(v) {
            if p.is_var() {
                out.push_var(self.str(p));
            } else {
                out.push_lit(self.str(p));
            }
        }
        out
    }

    /// The item at node `i` (with everything below it) and the index after it.
    fn item(&self, i: usize, cur: &mut Cursor) -> (Item, usize) {
        let n = &self.nodes[i];
        match n.kind() {
            Kind::Comment => (Item::Comment(self.str(n.name).to_string()), i + 1),
            Kind::Param(op) => (
                Item::Param(Param {
                    name: self.str(n.name).to_string(),
                    op,
                    values: (n.a..n.a + n.b).map(|v| self.owned_value(v)).collect(),
                    pos: self.item_pos(n, cur),
                }),
                i + 1,
            ),
            Kind::Include => (
                Item::Include {
                    pattern: self.owned_value(n.a),
                    pos: self.item_pos(n, cur),
                },
                i + 1,
            ),
            Kind::Jail => {
                let pos = self.item_pos(n, cur);
                let end = n.a as usize;
                let mut items = Vec::new();
                let mut k = i + 1;
                while k < end {
                    let (it, next) = self.item(k, cur);
                    items.push(it);
                    k = next;
                }
                (
                    Item::Jail {
                        name: self.str(n.name).to_string(),
                        items,
                        pos,
                    },
                    end,
                )
            }
        }
    }

    /// The top-level items, one at a time, as owned [`Item`]s (printing a large file this way
    /// holds one block in memory, not the whole tree).
    pub fn items(&self) -> impl Iterator<Item = Item> + '_ {
        let mut cur = Cursor::new();
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= self.nodes.len() {
                return None;
            }
            let (it, next) = self.item(i, &mut cur);
            i = next;
            Some(it)
        })
    }

    /// The owned tree, for editing.
    pub fn to_conf(&self) -> JailConf {
        JailConf {
            items: self.items().collect(),
        }
    }

    /// The bytes this value holds on the heap besides the text (capacities, not lengths).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.side.capacity()
            + self.nodes.capacity() * size_of::<Node>()
            + self.vals.capacity() * size_of::<u32>()
            + self.parts.capacity() * size_of::<Span>()
            + self.poses.capacity() * size_of::<Pos>()
    }

    /// Whether the file has an `.include` (then [`JailConf::expand_includes`] is needed
    /// before resolving; this type reads one text).
    pub fn has_includes(&self) -> bool {
        self.nodes.iter().any(|n| n.kind() == Kind::Include)
    }

    /// The same items, built from an owned tree (positions kept): how [`JailConf`] resolves.
    ///
    /// # Errors
    /// A tree beyond what one file can hold: 2^28 items or 1 GiB of names, values and
    /// comments (a parsed file is at most [`super::MAX_CONF_BYTES`]).
    pub fn from_conf(conf: &JailConf) -> crate::error::Result<FlatConf<'static>> {
        fn go(items: &[Item], d: &mut FlatConf<'static>) {
            for it in items {
                match it {
                    Item::Comment(c) => {
                        let name = side(d, c);
                        d.nodes.push(Node::new(Kind::Comment, name, 0, 0, 0));
                    }
                    Item::Param(p) => {
                        let name = side(d, &p.name);
                        let a = d.vals.len() as u32;
                        for v in &p.values {
                            value(d, v);
                        }
                        d.poses.push(p.pos.clone());
                        d.nodes.push(Node::new(
                            Kind::Param(p.op),
                            name,
                            a,
                            p.values.len() as u32,
                            (d.poses.len() - 1) as u32,
                        ));
                    }
                    Item::Include { pattern, pos } => {
                        let a = d.vals.len() as u32;
                        value(d, pattern);
                        d.poses.push(pos.clone());
                        d.nodes.push(Node::new(
                            Kind::Include,
                            Span::side(0, 0),
                            a,
                            1,
                            (d.poses.len() - 1) as u32,
                        ));
                    }
                    Item::Jail { name, items, pos } => {
                        let name = side(d, name);
                        d.poses.push(pos.clone());
                        let me = d.nodes.len();
                        d.nodes.push(Node::new(
                            Kind::Jail,
                            name,
                            0,
                            0,
                            (d.poses.len() - 1) as u32,
                        ));
                        go(items, d);
                        d.nodes[me].a = d.nodes.len() as u32;
                    }
                }
            }
        }
        fn side(d: &mut FlatConf<'static>, s: &str) -> Span {
            let at = d.side.len();
            d.side.push_str(s);
            Span::side(at, s.len())
        }
        fn value(d: &mut FlatConf<'static>, v: &Value) {
            d.vals.push(d.parts.len() as u32);
            for p in &v.0 {
                let s = match p {
                    Part::Lit(l) => side(d, l),
                    Part::Var(n) => side(d, n).var(),
                };
                d.parts.push(s);
            }
        }
        fn size(items: &[Item], n: &mut usize, bytes: &mut usize) {
            for it in items {
                *n += 1;
                match it {
                    Item::Comment(c) => *bytes += c.len(),
                    Item::Param(p) => {
                        *bytes += p.name.len();
                        for v in &p.values {
                            *bytes +=
                                v.0.iter()
                                    .map(|p| match p {
                                        Part::Lit(s) | Part::Var(s) => s.len(),
                                    })
                                    .sum::<usize>();
                        }
                    }
                    Item::Include { pattern, .. } => *bytes += pattern.to_string().len(),
                    Item::Jail { name, items, .. } => {
                        *bytes += name.len();
                        size(items, n, bytes);
                    }
                }
            }
        }
        let (mut n, mut bytes) = (0, 0);
        size(&conf.items, &mut n, &mut bytes);
        if n >= 1 << 28 || bytes >= 1 << 30 {
            return Err(crate::error::Error::new(
                crate::error::Op::Validate,
                sysabi::ErrorKind::InvalidInput,
                format!("a jail.conf tree of {n} items and {bytes} bytes of text: more than one file may hold"),
            ));
        }
        let mut d = FlatConf::empty("", "");
        go(&conf.items, &mut d);
        d.vals.push(d.parts.len() as u32);
        Ok(d)
    }
}

impl std::fmt::Display for FlatConf<'_> {
    /// The canonical format, as [`JailConf`]'s, printed one top-level item at a time.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::print::fmt_items(self.items(), 0, f)
    }
}
