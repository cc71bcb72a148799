//! Reading the Make-style dependency files clang writes with `-MD -MF`.
//!
//! A depfile is `target: input input \` with lines continued by a backslash. In file names clang
//! escapes a space as `\ `, a `#` as `\#` and a `$` as `$$`. Only the inputs matter here: they are
//! every file the preprocessor read, the source first, in the order it read them.

/// The inputs listed in a depfile, without duplicates, in their order of first appearance.
pub fn inputs(text: &str) -> Vec<String> {
    let words = words(text);
    // The first word ending in an unescaped ':' closes the target list.
    let start = words.iter().position(|w| w.ends_with(':')).map(|i| i + 1).unwrap_or(0);
    let mut out: Vec<String> = Vec::new();
    for w in &words[start..] {
        if !w.is_empty() && !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// Splits a depfile into words, undoing clang's escapes and line continuations.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\n') => {
                    chars.next();
                    flush(&mut cur, &mut words);
                }
                Some('\r') => {
                    chars.next();
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    flush(&mut cur, &mut words);
                }
                Some(' ') | Some('#') | Some('\\') => cur.push(chars.next().unwrap_or(' ')),
                _ => cur.push('\\'),
            },
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            ' ' | '\t' | '\n' | '\r' => flush(&mut cur, &mut words),
            _ => cur.push(c),
        }
    }
    flush(&mut cur, &mut words);
    words
}

fn flush(cur: &mut String, words: &mut Vec<String>) {
    if !cur.is_empty() {
        words.push(std::mem::take(cur));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_continued_lines_in_order() {
        let d = "/tmp/x/prog.o: ebpf/prog.c ebpf/include/common.h \\\n  /usr/include/linux/bpf.h \\\n  ebpf/include/common.h\n";
        assert_eq!(
            inputs(d),
            ["ebpf/prog.c", "ebpf/include/common.h", "/usr/include/linux/bpf.h"]
        );
    }

    #[test]
    fn undoes_escapes() {
        let d = "out.o: my\\ dir/a.c cost$$.h hash\\#.h\n";
        assert_eq!(inputs(d), ["my dir/a.c", "cost$.h", "hash#.h"]);
    }

    #[test]
    fn empty_depfile_has_no_inputs() {
        assert!(inputs("").is_empty());
        assert!(inputs("out.o:\n").is_empty());
    }
}
