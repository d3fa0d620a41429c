//! Golden table of Dockerfiles that do not parse: each error, with the line it names.
#![cfg(test)]

fn error(src: &str) -> String {
    match berth_dockerfile::parse(src) {
        Ok(df) => panic!("parsed but should not: {src:?}\n{df:#?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, &str)] = &[
        ("", "dockerfile parse error on line 1: file with no instructions"),
        ("# only a comment\n\n", "dockerfile parse error on line 2: file with no instructions"),
        ("FROM busybox\nFORM x\n", "dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)"),
        ("FROM busybox\nBOGUSWORD x\n", "dockerfile parse error on line 2: unknown instruction: BOGUSWORD"),
        ("FROM a b\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        ("FROM a AS 1st\n", "dockerfile parse error on line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM --bogus=1 a\n", "dockerfile parse error on line 1: unknown flag: bogus"),
        ("RUN true\nFROM a\n", "dockerfile parse error on line 1: no build stage in current context"),
        ("FROM a\nCOPY onlyone\n", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nADD x\n", "dockerfile parse error on line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nCOPY --checksum=sha256:00 a b\n", "dockerfile parse error on line 2: unknown flag: checksum"),
        ("FROM a\nADD --checksum=sha256:00 local.tar /\n", "dockerfile parse error on line 2: checksum can't be specified for non-HTTP(S) sources"),
        ("FROM a\nCOPY --from a b\n", "dockerfile parse error on line 2: Missing a value on flag: from"),
        ("FROM a\nCOPY --link=maybe a b\n", "dockerfile parse error on line 2: Expecting boolean value for flag link, not: maybe"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF\n", "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"),
        ("FROM a\nCMD [\"a\", 1]\n", "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM a\nSHELL /bin/sh -c\n", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form (SHELL /bin/sh -c)"),
        ("FROM a\nSHELL []\n", "dockerfile parse error on line 2: SHELL requires at least one argument"),
        ("FROM a\nRUN\n", "dockerfile parse error on line 2: RUN requires at least one argument"),
        ("FROM a\nENV\n", "dockerfile parse error on line 2: ENV requires at least one argument"),
        ("FROM a\nENV X\n", "dockerfile parse error on line 2: ENV must have two arguments"),
        ("FROM a\nENV a=b c\n", "dockerfile parse error on line 2: Syntax error - can't find = in \"c\". Must be of the form: name=value"),
        ("FROM a\nLABEL =x\n", "dockerfile parse error on line 2: LABEL names can not be blank"),
        ("FROM a\nARG =x\n", "dockerfile parse error on line 2: ARG names can not be blank"),
        ("FROM a\nEXPOSE\n", "dockerfile parse error on line 2: EXPOSE requires at least one argument"),
        ("FROM a\nUSER\n", "dockerfile parse error on line 2: USER requires exactly one argument"),
        ("FROM a\nWORKDIR\n", "dockerfile parse error on line 2: WORKDIR requires exactly one argument"),
        ("FROM a\nVOLUME [\"\"]\n", "dockerfile parse error on line 2: VOLUME specified can not be an empty string"),
        ("FROM a\nSTOPSIGNAL\n", "dockerfile parse error on line 2: STOPSIGNAL requires exactly one argument"),
        ("FROM a\nMAINTAINER\n", "dockerfile parse error on line 2: MAINTAINER requires exactly one argument"),
        ("FROM a\nUSER --x=1 me\n", "dockerfile parse error on line 2: unknown flag: x"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM x\n", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD\n", "dockerfile parse error on line 2: ONBUILD requires at least one argument"),
        ("FROM a\nHEALTHCHECK\n", "dockerfile parse error on line 2: HEALTHCHECK requires at least one argument"),
        ("FROM a\nHEALTHCHECK NONE x\n", "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CURL x\n", "dockerfile parse error on line 2: Unknown type \"CURL\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nHEALTHCHECK CMD\n", "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK --interval=1us CMD true\n", "dockerfile parse error on line 2: Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --timeout=5 CMD true\n", "dockerfile parse error on line 2: time: missing unit in duration \"5\""),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD true\n", "dockerfile parse error on line 2: --retries cannot be negative (-1)"),
        ("FROM a\nRUN <<EOF\necho never ends\n", "dockerfile parse error on line 2: unterminated heredoc"),
        ("FROM a\nRUN --mount=type=nfs,target=/x true\n", "dockerfile parse error on line 2: unsupported mount type \"nfs\""),
        ("FROM a\nRUN --mount=type=cache true\n", "dockerfile parse error on line 2: mount type cache requires a target"),
        ("FROM a\nRUN --network=bridge true\n", "dockerfile parse error on line 2: unsupported network mode \"bridge\""),
        ("FROM a\nRUN --security=root true\n", "dockerfile parse error on line 2: unsupported security mode \"root\""),
        ("# escape=x\nFROM a\n", "dockerfile parse error on line 1: invalid ESCAPE 'x'. Must be ` or \\"),
        ("# escape=\\\n# escape=`\nFROM a\n", "dockerfile parse error on line 2: only one escape parser directive can be used"),
        ("# syntax=example.com/frontend:1\nFROM a\n", "dockerfile parse error on line 1: unsupported frontend \"example.com/frontend:1\": berth builds Dockerfiles itself and runs no other frontend (use docker/dockerfile, or remove the syntax directive)"),
        ("# check=skip=all;error=maybe\nFROM a\n", "dockerfile parse error on line 1: invalid check directive: error=\"maybe\""),
        // A later syntax error wins over an earlier unknown instruction, as in BuildKit.
        ("FROM a\nFORM b\nRUN <<EOF\n", "dockerfile parse error on line 3: unterminated heredoc"),
        // Continuation lines count: the error names the instruction's first line.
        ("FROM a\n\nCOPY \\\n  only-one\n", "dockerfile parse error on line 3: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = error(src);
        if got != *want {
            failures.push(format!("{src:?}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lines_of_parsed_instructions() {
    let df = berth_dockerfile::parse("# c\n\nFROM a\nRUN a \\\n b\n\nCMD x\n").unwrap();
    let lines: Vec<_> = df.stages[0]
        .instructions
        .iter()
        .map(|i| (i.line, i.end_line))
        .collect();
    assert_eq!(df.stages[0].line, 3);
    assert_eq!(lines, [(4, 5), (7, 7)]);
}
