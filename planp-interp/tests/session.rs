//! Interactive sessions: declarations and expressions typed after a program is loaded.

use planp_interp::session::{Session, SessionError};
use planp_interp::{LinkType, NodeConfig};

fn value(s: &mut Session, text: &str) -> (String, String) {
    match s.eval(text) {
        Ok(e) => {
            let v = e.values.last().expect("a value");
            (v.ty.clone(), v.value.clone())
        }
        Err(SessionError::Diags(d)) => panic!("{}", s.sources.render(&d, false, true)),
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn expressions_and_declarations_persist() {
    let mut s = Session::new(NodeConfig::default());
    assert_eq!(value(&mut s, "1 + 2"), ("int".into(), "3".into()));
    assert_eq!(value(&mut s, "it * 10"), ("int".into(), "30".into()), "`it` is the last value");
    assert_eq!(s.eval("fun double(x : int) : int = 2 * x").unwrap().declared, vec!["fun double(int) : int"]);
    assert_eq!(value(&mut s, "val t = mkTable(4)"), ("_ hash_table".into(), "{}".into()));
    value(&mut s, "tablePut(t, \"a\", double(21))");
    assert_eq!(value(&mut s, "tableGet(t, \"a\")"), ("int".into(), "42".into()));
    assert_eq!(s.eval("t").unwrap().values[0].ty, "int hash_table", "the table's type was completed by its use");
    // Shadowing: a new definition hides the old one for what follows.
    value(&mut s, "val x = 1");
    s.eval("fun getX() : int = x").unwrap();
    value(&mut s, "val x = \"now a string\"");
    assert_eq!(value(&mut s, "(getX(), x)"), ("int*string".into(), "(1, \"now a string\")".into()));
}

#[test]
fn errors_leave_the_session_as_it_was() {
    let mut s = Session::new(NodeConfig::default());
    value(&mut s, "val a = 5");
    let Err(SessionError::Diags(d)) = s.eval("val b = a + \"x\"") else { panic!() };
    let shown = s.sources.render(&d, false, true);
    assert!(shown.starts_with("<input 2>:1:11: planp::type::operand"), "{shown}");
    assert!(s.eval("b").is_err(), "b was not defined");
    // An initialiser that raises leaves nothing behind either.
    let Err(SessionError::Load(e)) = s.eval("val c = 1 div 0") else { panic!() };
    assert!(e.diag.message.contains("DivByZero"));
    assert!(s.eval("c").is_err());
    assert_eq!(value(&mut s, "a"), ("int".into(), "5".into()));
    assert_eq!(s.type_of("hd [a]").unwrap().to_string(), "int");
}

#[test]
fn a_loaded_program_is_visible_at_the_prompt() {
    let src = "fun inc(x : int) : int = x + 1\nval start = 10\n\
               channel network(ps : int, ss : int list, p : ip*udp*blob) is (inc(ps), size(#3 p) :: ss)\n";
    let mut s = Session::load("prog.planp", src, NodeConfig::default()).ok().unwrap();
    assert_eq!(value(&mut s, "inc(start)"), ("int".into(), "11".into()));
    // Run a packet, then look at the states.
    let mut p = vec![0x45, 0, 0, 31, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0, 11, 0, 0];
    p.extend(b"abc");
    s.node().process(LinkType::RAW, &p, 0);
    s.node().process(LinkType::RAW, &p, 0);
    assert!(s.describe_states().contains("protocol state : int = 2"), "{}", s.describe_states());
    assert!(s.describe_states().contains("= [3, 3]"), "{}", s.describe_states());
    s.node().reset_states().unwrap();
    assert!(s.describe_states().contains("protocol state : int = 0"));
    // Channels cannot be declared at the prompt.
    let Err(SessionError::Diags(d)) = s.eval("channel c(ps : int, ss : unit, p : int) is (ps, ss)") else { panic!() };
    assert_eq!(d[0].name, "channel-at-prompt");
    // Diagnostics point into the right text: the file, or an input.
    let Err(SessionError::Diags(d)) = s.eval("inc(\"no\")") else { panic!() };
    let long = s.sources.render(&d, false, false);
    assert!(long.contains("<input 3>:1:5"), "{long}");
}
