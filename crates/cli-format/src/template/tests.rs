use serde_json::json;

use super::render;

fn r(t: &str, v: serde_json::Value) -> String {
    render(t, &v).unwrap_or_else(|e| panic!("{t}: {e}"))
}

#[test]
fn fields_and_printing() {
    let v = json!({"Name": "/web", "State": {"Status": "running", "Pid": 42, "Running": true},
        "Config": {"Cmd": ["sh", "-c", "x"], "Entrypoint": null, "Labels": {"b": "2", "a": "1"}}});
    assert_eq!(r("{{.Name}}", v.clone()), "/web");
    assert_eq!(
        r(
            "{{.State.Status}} {{.State.Pid}} {{.State.Running}}",
            v.clone()
        ),
        "running 42 true"
    );
    assert_eq!(r("{{.Config.Cmd}}", v.clone()), "[sh -c x]");
    assert_eq!(r("{{.Config.Labels}}", v.clone()), "map[a:1 b:2]");
    assert_eq!(r("{{.Config.Entrypoint}}", v.clone()), "<nil>");
    assert_eq!(r("{{.Config.Nope}}", v.clone()), "<no value>");
    assert_eq!(
        r("{{json .State}}", v.clone()),
        r#"{"Pid":42,"Running":true,"Status":"running"}"#
    );
    assert_eq!(r("{{json .Config.Cmd}}", v.clone()), r#"["sh","-c","x"]"#);
    assert_eq!(r("{{.}}", json!("x")), "x");
    assert!(render("{{.Name.Foo}}", &v).is_err());
}

#[test]
fn control_flow_and_variables() {
    let v =
        json!({"Running": false, "Names": ["a", "b"], "Labels": {"x": "1", "com.y": "2"}, "N": 3});
    assert_eq!(r("{{if .Running}}up{{else}}down{{end}}", v.clone()), "down");
    assert_eq!(
        r(
            "{{if eq .N 1}}one{{else if eq .N 3}}three{{else}}many{{end}}",
            v.clone()
        ),
        "three"
    );
    assert_eq!(r("{{range .Names}}[{{.}}]{{end}}", v.clone()), "[a][b]");
    assert_eq!(
        r("{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}", v.clone()),
        "0=a 1=b "
    );
    assert_eq!(
        r(
            "{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}",
            v.clone()
        ),
        "com.y:2;x:1;"
    );
    assert_eq!(
        r("{{range .Missing}}x{{else}}empty{{end}}", v.clone()),
        "empty"
    );
    assert_eq!(r("{{with .Labels}}{{.x}}{{end}}", v.clone()), "1");
    assert_eq!(r("{{$n := .N}}{{$n}}", v.clone()), "3");
    assert_eq!(r("{{range .Names}}{{$.N}}{{end}}", v.clone()), "33");
    assert_eq!(r("a  {{- .N -}}  b", v.clone()), "a3b");
    assert_eq!(r("{{/* comment */}}ok", v.clone()), "ok");
    assert_eq!(
        r("{{if and .N (not .Running)}}yes{{end}}", v.clone()),
        "yes"
    );
    assert_eq!(
        r(
            "{{if gt .N 2}}big{{end}}{{if lt .N 2}}small{{end}}",
            v.clone()
        ),
        "big"
    );
}

#[test]
fn docker_functions() {
    let v = json!({"Labels": {"com.example.vendor": "Acme"}, "Names": ["/a", "/b"], "Name": "hello world", "Id": "abcdef0123456789"});
    assert_eq!(
        r(r#"{{index .Labels "com.example.vendor"}}"#, v.clone()),
        "Acme"
    );
    assert_eq!(r(r#"{{index .Labels "missing"}}"#, v.clone()), "");
    assert_eq!(r(r#"{{index .Names 1}}"#, v.clone()), "/b");
    assert_eq!(r(r#"{{join .Names ", "}}"#, v.clone()), "/a, /b");
    assert_eq!(
        r(
            r#"{{upper .Name}} {{lower "ABC"}} {{title .Name}}"#,
            v.clone()
        ),
        "HELLO WORLD abc Hello World"
    );
    assert_eq!(r(r#"{{.Name | upper}}"#, v.clone()), "HELLO WORLD");
    assert_eq!(
        r(
            r#"{{printf "%s-%d|%-5s|%5s|%q" .Name 7 "ab" "cd" "x"}}"#,
            v.clone()
        ),
        "hello world-7|ab   |   cd|\"x\""
    );
    assert_eq!(r(r#"{{printf "%.12s" .Id}}"#, v.clone()), "abcdef012345");
    assert_eq!(r(r#"{{len .Names}} {{len .Name}}"#, v.clone()), "2 11");
    assert_eq!(
        r(r#"{{truncate .Id 4}}{{pad "x" 1 2}}|"#, v.clone()),
        "abcd x  |"
    );
    assert_eq!(r(r#"{{split "a:b:c" ":"}}"#, v.clone()), "[a b c]");
    assert_eq!(r(r#"{{slice .Id 0 3}}"#, v.clone()), "abc");
    assert_eq!(r(r#"{{println "x"}}"#, v.clone()), "x\n");
    assert_eq!(
        r(r#"{{(index .Names 0) | printf "<%s>"}}"#, v.clone()),
        "</a>"
    );
    let e = render("{{nosuch .}}", &v).unwrap_err();
    assert!(
        e.to_string().contains("function \"nosuch\" not defined"),
        "{e}"
    );
    assert!(render("{{if .X}}", &v).is_err());
    assert!(render("{{.X", &v).is_err());
    assert!(render("{{end}}", &v).is_err());
}
