//! Evaluation of parsed templates and the function library.

use serde_json::{Map, Value};

use super::parse::{Arg, Node, Pipeline};
use super::TemplateError;

/// A value during evaluation: JSON, or "no value" (a missing map key).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Json(Value),
    Missing,
}

impl V {
    fn json(&self) -> Value {
        match self {
            V::Json(v) => v.clone(),
            V::Missing => Value::Null,
        }
    }
}

fn err(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

/// Go's truthiness: false, 0, "", nil, empty list/map are false.
fn truthy(v: &V) -> bool {
    match v {
        V::Missing => false,
        V::Json(v) => match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        },
    }
}

fn fmt_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f.fract() == 0.0 && f.abs() < 1e21 {
            format!("{f:.0}")
        } else {
            f.to_string()
        }
    }
}

/// Prints a value like Go's `%v`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => fmt_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&o[*k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

fn print_v(v: &V) -> String {
    match v {
        V::Missing => "<no value>".into(),
        V::Json(j) => go_print(j),
    }
}

/// docker's `json` function: compact JSON without HTML escaping.
pub fn json_func(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn as_str(v: &V, _func: &str) -> Result<String, TemplateError> {
    match v {
        V::Json(Value::String(s)) => Ok(s.clone()),
        V::Json(Value::Null) | V::Missing => Ok(String::new()),
        other => Ok(print_v(other)),
    }
}

/// A number as Go's `int(x)` makes it: the fraction dropped.
#[allow(
    clippy::cast_possible_truncation,
    reason = "dropping the fraction is the point; `as` saturates out-of-range values"
)]
fn go_int(x: f64) -> i64 {
    x as i64
}

fn as_int(v: &V, f: &str) -> Result<i64, TemplateError> {
    match v {
        V::Json(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(go_int))
            .ok_or_else(|| err(format!("{f}: bad number"))),
        other => Err(err(format!(
            "{f}: expected integer; found {}",
            print_v(other)
        ))),
    }
}

fn field(v: &V, name: &str) -> Result<V, TemplateError> {
    match v {
        V::Json(Value::Object(m)) => Ok(m.get(name).cloned().map(V::Json).unwrap_or(V::Missing)),
        V::Json(Value::Null) | V::Missing => Ok(V::Missing),
        other => Err(err(format!(
            "can't evaluate field {name} in type {}",
            type_name(other)
        ))),
    }
}

fn type_name(v: &V) -> &'static str {
    match v {
        V::Missing => "nil",
        V::Json(Value::Null) => "nil",
        V::Json(Value::Bool(_)) => "bool",
        V::Json(Value::Number(_)) => "number",
        V::Json(Value::String(_)) => "string",
        V::Json(Value::Array(_)) => "slice",
        V::Json(Value::Object(_)) => "map",
    }
}

fn compare(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a.json(), b.json()) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(&y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// Go's `printf` for the verbs docker users need: %s %v %d %q %t %f %x %%, with width,
/// `-` and `0` flags and precision.
fn printf(fmt: &str, args: &[V]) -> Result<String, TemplateError> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut next = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            i += 1;
        }
        let mut width = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            i += 1;
        }
        let mut precision = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = 0usize;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                i += 1;
            }
            precision = Some(p);
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let mut s = match verb {
            'd' => as_int(arg, "printf")
                .map(|n| n.to_string())
                .unwrap_or_else(|_| format!("%!d({})", print_v(arg))),
            'q' => serde_json::to_string(&as_str(arg, "")?).unwrap_or_default(),
            'f' => {
                let f = arg.json().as_f64().unwrap_or(0.0);
                format!("{:.*}", precision.unwrap_or(6), f)
            }
            'x' => match arg.json() {
                Value::Number(n) => format!("{:x}", n.as_i64().unwrap_or(0)),
                other => go_print(&other)
                    .bytes()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            },
            _ => {
                let s = print_v(arg);
                match (verb, precision) {
                    ('s', Some(p)) => s.chars().take(p).collect(),
                    _ => s,
                }
            }
        };
        let len = s.chars().count();
        if len < width {
            let pad = width - len;
            if left {
                s.push_str(&" ".repeat(pad));
            } else if zero && verb == 'd' {
                s = format!("{}{s}", "0".repeat(pad));
            } else {
                s = format!("{}{s}", " ".repeat(pad));
            }
        }
        out.push_str(&s);
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..].iter().map(print_v).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

fn title_case(s: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '\'';
    }
    out
}

fn call(name: &str, args: &[V]) -> Result<V, TemplateError> {
    let arity = |n: usize| -> Result<(), TemplateError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            )))
        }
    };
    let s = |v: String| Ok(V::Json(Value::String(v)));
    match name {
        "json" => {
            arity(1)?;
            s(json_func(&args[0].json()))
        }
        "join" => {
            arity(2)?;
            let sep = as_str(&args[1], name)?;
            let items: Vec<String> = match args[0].json() {
                Value::Array(a) => a.iter().map(go_print).collect(),
                Value::Null => Vec::new(),
                other => {
                    return Err(err(format!(
                        "join: expected a list, got {}",
                        go_print(&other)
                    )))
                }
            };
            s(items.join(&sep))
        }
        "split" => {
            arity(2)?;
            let text = as_str(&args[0], name)?;
            let sep = as_str(&args[1], name)?;
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect()
            };
            Ok(V::Json(Value::Array(parts)))
        }
        "title" => {
            arity(1)?;
            s(title_case(&as_str(&args[0], name)?))
        }
        "lower" => {
            arity(1)?;
            s(as_str(&args[0], name)?.to_lowercase())
        }
        "upper" => {
            arity(1)?;
            s(as_str(&args[0], name)?.to_uppercase())
        }
        "pad" => {
            arity(3)?;
            let text = as_str(&args[0], name)?;
            let before = usize::try_from(as_int(&args[1], name)?).unwrap_or(0);
            let after = usize::try_from(as_int(&args[2], name)?).unwrap_or(0);
            s(format!("{}{text}{}", " ".repeat(before), " ".repeat(after)))
        }
        "truncate" => {
            arity(2)?;
            let text = as_str(&args[0], name)?;
            let n = usize::try_from(as_int(&args[1], name)?).unwrap_or(0);
            s(text.chars().take(n).collect())
        }
        "print" => s(go_sprint(args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(print_v).collect();
            s(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            let Some(fmt) = args.first() else {
                return Err(err("printf: missing format"));
            };
            s(printf(&as_str(fmt, name)?, &args[1..])?)
        }
        "len" => {
            arity(1)?;
            let n = match args[0].json() {
                Value::String(t) => t.len(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::Null => 0,
                other => return Err(err(format!("len of type {}", go_print(&other)))),
            };
            Ok(V::Json(Value::from(n)))
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err(err("index: missing arguments"));
            };
            let mut cur = first.clone();
            for k in keys {
                cur = match (cur.json(), k.json()) {
                    (Value::Object(m), Value::String(key)) => match m.get(&key) {
                        Some(v) => V::Json(v.clone()),
                        // Go returns the zero value of the map's element type: "" for labels.
                        None => V::Json(Value::String(String::new())),
                    },
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_u64().ok_or_else(|| err("index: bad index"))?;
                        // Past the address space is past the end.
                        let i = usize::try_from(i).unwrap_or(usize::MAX);
                        V::Json(
                            a.get(i)
                                .cloned()
                                .ok_or_else(|| err(format!("index out of range: {i}")))?,
                        )
                    }
                    (Value::Null, _) => V::Missing,
                    (c, k) => {
                        return Err(err(format!(
                            "can't index item of type {} with {}",
                            go_print(&c),
                            go_print(&k)
                        )))
                    }
                };
            }
            Ok(cur)
        }
        "slice" => {
            let Some((first, idx)) = args.split_first() else {
                return Err(err("slice: missing arguments"));
            };
            let bounds: Vec<usize> = idx
                .iter()
                .map(|i| as_int(i, name).map(|n| usize::try_from(n).unwrap_or(0)))
                .collect::<Result<_, _>>()?;
            match first.json() {
                Value::String(t) => {
                    let b = bounds.first().copied().unwrap_or(0).min(t.len());
                    let e = bounds.get(1).copied().unwrap_or(t.len()).min(t.len());
                    s(t.get(b..e.max(b)).unwrap_or("").to_string())
                }
                Value::Array(a) => {
                    let b = bounds.first().copied().unwrap_or(0).min(a.len());
                    let e = bounds.get(1).copied().unwrap_or(a.len()).min(a.len());
                    Ok(V::Json(Value::Array(a[b..e.max(b)].to_vec())))
                }
                other => Err(err(format!("can't slice {}", go_print(&other)))),
            }
        }
        "not" => {
            arity(1)?;
            Ok(V::Json(Value::Bool(!truthy(&args[0]))))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(V::Missing)),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(V::Missing)),
        "eq" => {
            let Some((a, rest)) = args.split_first() else {
                return Err(err("eq: missing arguments"));
            };
            Ok(V::Json(Value::Bool(rest.iter().any(|b| {
                compare(a, b) == Some(std::cmp::Ordering::Equal)
            }))))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            use std::cmp::Ordering::*;
            let o = compare(&args[0], &args[1]);
            if o.is_none() && name != "ne" {
                return Err(err(format!("{name}: incompatible types for comparison")));
            }
            let r = match name {
                "ne" => o != Some(Equal),
                "lt" => o == Some(Less),
                "le" => o != Some(Greater),
                "gt" => o == Some(Greater),
                _ => o != Some(Less),
            };
            Ok(V::Json(Value::Bool(r)))
        }
        _ => Err(err(format!("function \"{name}\" not defined"))),
    }
}

/// Go's `fmt.Sprint`: spaces only between operands that are both non-strings.
fn go_sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, V::Json(Value::String(_)));
        if i > 0 && !is_str && !matches!(args[i - 1], V::Json(Value::String(_))) {
            out.push(' ');
        }
        out.push_str(&print_v(a));
    }
    out
}

/// The evaluator: the root (`$`) and a stack of variables.
pub(crate) struct Exec {
    vars: Vec<(String, V)>,
}

impl Exec {
    pub(crate) fn new(root: &Value) -> Self {
        Exec {
            vars: vec![(String::new(), V::Json(root.clone()))],
        }
    }

    fn var(&self, name: &str) -> Result<V, TemplateError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| err(format!("undefined variable: ${name}")))
    }

    fn fields(mut v: V, fields: &[String]) -> Result<V, TemplateError> {
        for f in fields {
            v = field(&v, f)?;
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &V) -> Result<V, TemplateError> {
        match a {
            Arg::Dot(f) => Self::fields(dot.clone(), f),
            Arg::Var(n, f) => Self::fields(self.var(n)?, f),
            Arg::Str(s) => Ok(V::Json(Value::String(s.clone()))),
            Arg::Num(n) => Ok(V::Json(if n.fract() == 0.0 {
                Value::from(go_int(*n))
            } else {
                Value::from(*n)
            })),
            Arg::Bool(b) => Ok(V::Json(Value::Bool(*b))),
            Arg::Nil => Ok(V::Json(Value::Null)),
            Arg::Func(f) => call(f, &[]),
            Arg::Sub(p, f) => {
                let v = self.pipeline(p, dot)?;
                Self::fields(v, f)
            }
        }
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &V) -> Result<V, TemplateError> {
        let mut prev: Option<V> = None;
        for cmd in &p.cmds {
            let v = match cmd.first() {
                Some(Arg::Func(name)) => {
                    let mut args = Vec::with_capacity(cmd.len());
                    for a in &cmd[1..] {
                        args.push(self.arg(a, dot)?);
                    }
                    if let Some(pv) = prev.take() {
                        args.push(pv);
                    }
                    call(name, &args)?
                }
                Some(a) => {
                    if cmd.len() > 1 || prev.is_some() {
                        return Err(err("can't give argument to non-function"));
                    }
                    self.arg(a, dot)?
                }
                None => return Err(err("empty command")),
            };
            prev = Some(v);
        }
        let v = prev.unwrap_or(V::Missing);
        if let Some(name) = p.decl.first() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    pub(crate) fn run(
        &mut self,
        nodes: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        self.run_v(nodes, &V::Json(dot.clone()), out)
    }

    fn run_v(&mut self, nodes: &[Node], dot: &V, out: &mut String) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&print_v(&v));
                    }
                }
                Node::Block {
                    kind,
                    pipe,
                    body,
                    els,
                } => self.block(kind, pipe, body, els, dot, out)?,
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn block(
        &mut self,
        kind: &str,
        pipe: &Pipeline,
        body: &[Node],
        els: &[Node],
        dot: &V,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let range_decl = kind == "range" && !pipe.decl.is_empty();
        let v = if range_decl {
            let plain = Pipeline {
                decl: Vec::new(),
                cmds: pipe.cmds.clone(),
            };
            self.pipeline(&plain, dot)?
        } else {
            self.pipeline(pipe, dot)?
        };
        let result = match kind {
            "if" => {
                if truthy(&v) {
                    self.run_v(body, dot, out)
                } else {
                    self.run_v(els, dot, out)
                }
            }
            "with" => {
                if truthy(&v) {
                    self.run_v(body, &v, out)
                } else {
                    self.run_v(els, dot, out)
                }
            }
            _ => {
                let items: Vec<(Value, Value)> = match v.json() {
                    Value::Array(a) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Value::from(i), x))
                        .collect(),
                    Value::Object(m) => {
                        let mut m: Vec<(String, Value)> = Map::into_iter(m).collect();
                        m.sort_by(|a, b| a.0.cmp(&b.0));
                        m.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(err(format!(
                            "range can't iterate over {}",
                            go_print(&other)
                        )))
                    }
                };
                if items.is_empty() {
                    self.run_v(els, dot, out)
                } else {
                    for (k, item) in items {
                        let inner = self.vars.len();
                        match pipe.decl.as_slice() {
                            [one] => self.vars.push((one.clone(), V::Json(item.clone()))),
                            [key, val, ..] => {
                                self.vars.push((key.clone(), V::Json(k)));
                                self.vars.push((val.clone(), V::Json(item.clone())));
                            }
                            [] => {}
                        }
                        self.run_v(body, &V::Json(item), out)?;
                        self.vars.truncate(inner);
                    }
                    Ok(())
                }
            }
        };
        self.vars.truncate(mark);
        result
    }
}
