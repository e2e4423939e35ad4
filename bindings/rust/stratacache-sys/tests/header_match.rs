//! Proves the hand-written declarations in src/lib.rs match the installed C header:
//! each `pub fn` becomes `static RET (*const check)(PARAMS) = name;`, each callback
//! alias an assignment to the header's typedef and each `pub const` a `_Static_assert`,
//! compiled with `cc -Werror` against `pkg-config --cflags stratacache`. A parameter or
//! return type that differs (width, pointer depth, const) is an incompatible-pointer
//! error; a name the header lacks is an undeclared identifier.
use std::path::Path;
use std::process::Command;

fn c_type(rust: &str) -> String {
    let t = rust.trim();
    if let Some(inner) = t.strip_prefix("*const ") {
        return format!("{} const *", c_type(inner));
    }
    if let Some(inner) = t.strip_prefix("*mut ") {
        return format!("{} *", c_type(inner));
    }
    match t {
        "c_void" => "void",
        "c_char" => "char",
        "c_int" => "int",
        "c_uint" => "unsigned",
        "usize" => "size_t",
        "i64" => "int64_t",
        "u64" => "uint64_t",
        "u32" => "uint32_t",
        "f64" => "double",
        other if other.starts_with("stratacache_") => other,
        other => panic!("no C spelling for Rust type `{other}`"),
    }
    .to_string()
}

/// Text after `start` up to the `;` that ends the item (brackets balanced).
fn item_at(src: &str, start: usize) -> &str {
    let mut depth = 0i32;
    for (i, ch) in src[start..].char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => return &src[start..start + i],
            _ => {}
        }
    }
    panic!("unterminated item at {start}");
}

/// `(params) -> ret` → (C parameter list, C return type).
fn signature(text: &str) -> (String, String) {
    let open = text.find('(').unwrap();
    let mut depth = 0;
    let mut close = open;
    for (i, ch) in text[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let params: Vec<String> = text[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| c_type(p.split_once(':').expect("name: type").1))
        .collect();
    let rest = text[close + 1..].trim().trim_end_matches('>').trim().trim_end_matches(',').trim();
    let ret = match rest.strip_prefix("->") {
        Some(r) => c_type(r.trim().trim_end_matches('>').trim()),
        None => "void".into(),
    };
    (if params.is_empty() { "void".into() } else { params.join(", ") }, ret)
}

fn generate(src: &str) -> (String, usize) {
    let src: String = src.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut c = String::from("#include <stratacache.h>\n");
    let mut checked = 0;
    for (pos, _) in src.match_indices("pub fn ") {
        let item = item_at(&src, pos + "pub fn ".len());
        let name = item[..item.find('(').unwrap()].trim();
        let (params, ret) = signature(item);
        c += &format!("static {ret} (*const check_{name})({params}) = {name};\n");
        c += &format!("const void *use_{name}(void) {{ return (const void *)check_{name}; }}\n");
        checked += 1;
    }
    for (pos, _) in src.match_indices("pub type ") {
        let item = item_at(&src, pos + "pub type ".len());
        let (name, def) = item.split_once('=').unwrap();
        let fn_at = def.find("fn(").expect("callback alias");
        let (params, ret) = signature(&def[fn_at..]);
        c += &format!("void check_{0}(void) {{ {ret} (*p)({params}) = 0; {0} q = p; (void)q; }}\n", name.trim());
        checked += 1;
    }
    for (pos, _) in src.match_indices("pub const ") {
        let item = item_at(&src, pos + "pub const ".len());
        let name = item.split(':').next().unwrap().trim();
        let value = item.split_once('=').unwrap().1.trim();
        c += &format!("_Static_assert({name} == ({value}), \"{name}\");\n");
        checked += 1;
    }
    (c, checked)
}

/// Compiles `c` against the installed header; the compiler's output.
fn compile(c: &str, file: &str) -> std::process::Output {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file);
    std::fs::write(&out, c).unwrap();
    let cflags = Command::new("pkg-config").args(["--cflags", "stratacache"]).output().expect("pkg-config");
    assert!(cflags.status.success(), "pkg-config --cflags stratacache failed");
    let cflags = String::from_utf8(cflags.stdout).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(cc)
        .args(["-std=c11", "-fsyntax-only", "-Wall", "-Werror"])
        .args(cflags.split_whitespace())
        .arg(&out)
        .output()
        .expect("run the C compiler")
}

#[test]
fn declarations_match_the_installed_header() {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let (c, checked) = generate(&src);
    assert!(checked > 80, "only {checked} declarations found: the parser lost track");
    let result = compile(&c, "header_match.c");
    assert!(result.status.success(), "declarations differ from the header:\n{}", String::from_utf8_lossy(&result.stderr));
}

#[test]
fn a_wrong_declaration_is_caught() {
    // The checker itself must fail on mismatches: size_t where the header says int64_t,
    // a callback missing its `message` parameter, a constant with the wrong value.
    let wrong = [
        "extern \"C\" { pub fn stratacache_ttl(out_ttl_ms: *mut usize, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts) -> c_int; }",
        "pub type stratacache_callback = Option<unsafe extern \"C\" fn(payload: *mut c_void, status: c_int, value: *mut c_void, len: usize, format: c_int, count: i64)>;",
        "pub const STRATACACHE_ECLOSED: c_int = -13;",
    ];
    for decl in wrong {
        let (c, checked) = generate(decl);
        assert_eq!(checked, 1);
        assert!(!compile(&c, "header_mismatch.c").status.success(), "a wrong declaration compiled:\n{c}");
    }
}
