//! Renders the plugin interface (`wit/`) as one HTML page at build time,
//! from the WIT's own `///` comments: every world, interface, type and
//! function of `switchyard:plugin`, with the versioning policy
//! (`wit/compat/README.md`) on top. The API serves it at `/docs/wit`, so
//! the docs a partner reads are the contract the host was built with.
//!
//! It also bundles the browser phone served at `/phone` and the web console
//! served at `/` ([`build_phone`]).

mod build_phone;

use std::fmt::Write as _;
use std::path::PathBuf;

use wit_parser::{
    Docs, Function, Handle, Interface, Resolve, Type, TypeDefKind, TypeId, WorldItem, WorldKey,
};

fn main() {
    let wit = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let mut resolve = Resolve::new();
    let (pkg, _) = resolve.push_dir(&wit).expect("wit/ parses");
    let policy =
        std::fs::read_to_string(wit.join("compat/README.md")).expect("wit/compat/README.md");
    let html = render(&resolve, pkg, &policy);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("wit.html");
    std::fs::write(out, html).unwrap();

    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/phone");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    build_phone::bundle(&web, &out);
    let console = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/console");
    build_phone::bundle_console(&console, &out);
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Doc comments as paragraphs (blank lines split them).
fn docs(d: &Docs) -> String {
    let Some(text) = &d.contents else {
        return String::new();
    };
    text.split("\n\n")
        .map(|p| format!("<p>{}</p>", esc(p.trim())))
        .collect()
}

/// A type as WIT writes it.
fn ty(r: &Resolve, t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
        Type::Id(id) => type_id(r, *id),
    }
}

fn type_id(r: &Resolve, id: TypeId) -> String {
    let def = &r.types[id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let opt = |t: &Option<Type>| t.as_ref().map_or("_".into(), |t| ty(r, t));
    match &def.kind {
        TypeDefKind::Option(t) => format!("option<{}>", ty(r, t)),
        TypeDefKind::List(t) => format!("list<{}>", ty(r, t)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", ty(r, k), ty(r, v)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", ty(r, t)),
        TypeDefKind::Result(res) => format!("result<{}, {}>", opt(&res.ok), opt(&res.err)),
        TypeDefKind::Tuple(t) => format!(
            "tuple<{}>",
            t.types
                .iter()
                .map(|t| ty(r, t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Future(t) => format!("future<{}>", opt(t)),
        TypeDefKind::Stream(t) => format!("stream<{}>", opt(t)),
        TypeDefKind::Handle(Handle::Own(t)) => type_id(r, *t),
        TypeDefKind::Handle(Handle::Borrow(t)) => format!("borrow<{}>", type_id(r, *t)),
        TypeDefKind::Type(t) => ty(r, t),
        _ => "?".into(),
    }
}

fn function(r: &Resolve, f: &Function) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, ty(r, &p.ty)))
        .collect();
    let result = f
        .result
        .as_ref()
        .map(|t| format!(" -&gt; {}", esc(&ty(r, t))))
        .unwrap_or_default();
    format!(
        "<dt id=\"fn-{name}\"><code>{name}: func({params}){result}</code></dt><dd>{docs}</dd>",
        name = esc(&f.name),
        params = esc(&params.join(", ")),
        docs = docs(&f.docs),
    )
}

fn type_def(r: &Resolve, id: TypeId) -> String {
    let def = &r.types[id];
    let name = esc(def.name.as_deref().unwrap_or("?"));
    let mut out = String::new();
    let item = |n: &str, t: Option<String>, d: &Docs| {
        let t = t.map(|t| format!(": {}", esc(&t))).unwrap_or_default();
        format!("<li><code>{}{t}</code> {}</li>", esc(n), docs(d))
    };
    let (kind, items): (&str, Vec<String>) = match &def.kind {
        TypeDefKind::Record(rec) => (
            "record",
            rec.fields
                .iter()
                .map(|f| item(&f.name, Some(ty(r, &f.ty)), &f.docs))
                .collect(),
        ),
        TypeDefKind::Variant(v) => (
            "variant",
            v.cases
                .iter()
                .map(|c| item(&c.name, c.ty.as_ref().map(|t| ty(r, t)), &c.docs))
                .collect(),
        ),
        TypeDefKind::Enum(e) => (
            "enum",
            e.cases
                .iter()
                .map(|c| item(&c.name, None, &c.docs))
                .collect(),
        ),
        TypeDefKind::Flags(f) => (
            "flags",
            f.flags
                .iter()
                .map(|c| item(&c.name, None, &c.docs))
                .collect(),
        ),
        TypeDefKind::Resource => ("resource", Vec::new()),
        _ => {
            let _ = write!(
                out,
                "<dt id=\"type-{name}\"><code>type {name} = {}</code></dt><dd>{}</dd>",
                esc(&type_id(r, id)),
                docs(&def.docs)
            );
            return out;
        }
    };
    let _ = write!(
        out,
        "<dt id=\"type-{name}\"><code>{kind} {name}</code></dt><dd>{}<ul>{}</ul></dd>",
        docs(&def.docs),
        items.concat()
    );
    out
}

fn interface(r: &Resolve, name: &str, i: &Interface) -> String {
    let mut out = format!(
        "<section id=\"interface-{n}\"><h3>interface <code>{n}</code></h3>{}",
        docs(&i.docs),
        n = esc(name)
    );
    // Types defined here (not those `use`d from another interface).
    let own: Vec<TypeId> = i
        .types
        .values()
        .copied()
        .filter(|id| {
            !matches!(r.types[*id].kind, TypeDefKind::Type(Type::Id(_))) || {
                r.types[*id].docs.contents.is_some()
            }
        })
        .collect();
    if !own.is_empty() {
        out.push_str("<h4>Types</h4><dl>");
        for id in own {
            out.push_str(&type_def(r, id));
        }
        out.push_str("</dl>");
    }
    if !i.functions.is_empty() {
        out.push_str("<h4>Functions</h4><dl>");
        for f in i.functions.values() {
            out.push_str(&function(r, f));
        }
        out.push_str("</dl>");
    }
    out.push_str("</section>");
    out
}

fn world_items(r: &Resolve, items: &wit_parser::IndexMap<WorldKey, WorldItem>) -> String {
    items
        .iter()
        .map(|(key, item)| {
            let name = match (key, item) {
                (WorldKey::Interface(id), _) => r.id_of(*id).unwrap_or_else(|| "?".into()),
                (WorldKey::Name(n), _) => n.clone(),
            };
            let anchor = match item {
                WorldItem::Interface { id, .. } if r.interfaces[*id].package.is_some() => {
                    let local = r.interfaces[*id].name.clone().unwrap_or_default();
                    format!("#interface-{}", esc(&local))
                }
                _ => String::new(),
            };
            if anchor.is_empty() || name.starts_with("wasi:") {
                format!("<li><code>{}</code></li>", esc(&name))
            } else {
                format!(
                    "<li><a href=\"{anchor}\"><code>{}</code></a></li>",
                    esc(&name)
                )
            }
        })
        .collect()
}

fn render(r: &Resolve, pkg: wit_parser::PackageId, policy: &str) -> String {
    let p = &r.packages[pkg];
    let name = p.name.to_string();
    let mut body = format!("<h1>The plugin interface: <code>{}</code></h1>", esc(&name));
    body.push_str(&docs(&p.docs));
    body.push_str("<h2>Versions</h2><pre class=\"policy\">");
    body.push_str(&esc(policy));
    body.push_str("</pre><h2>Worlds</h2>");
    for (wname, wid) in &p.worlds {
        let w = &r.worlds[*wid];
        let _ = write!(
            body,
            "<section id=\"world-{n}\"><h3>world <code>{n}</code></h3>{}\
             <h4>Imports</h4><ul>{}</ul><h4>Exports</h4><ul>{}</ul></section>",
            docs(&w.docs),
            world_items(r, &w.imports),
            world_items(r, &w.exports),
            n = esc(wname),
        );
    }
    body.push_str("<h2>Interfaces</h2>");
    for (iname, iid) in &p.interfaces {
        body.push_str(&interface(r, iname, &r.interfaces[*iid]));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto;\
         padding:1em;line-height:1.4}}code{{font-family:monospace}}dt{{margin-top:.8em}}\
         section{{border-top:1px solid #ccc;margin-top:1.5em}}pre.policy{{white-space:pre-wrap}}\
         </style></head><body>{body}</body></html>",
        t = esc(&format!("{name}: the plugin interface")),
    )
}
