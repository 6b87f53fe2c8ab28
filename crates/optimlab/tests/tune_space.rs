//! Search-space files: parsing, file order, conditions, grids, and one test per error kind
//! checking that the message names the file, the line and the key.

use optimlab::tune::distribution::{Distribution, ParamValue};
use optimlab::tune::space::{Space, SpaceFile};

const EXAMPLE: &str = r#"
[params]
lr = { type = "float", low = 1e-6, high = 1e-2, log = true }
weight_decay = { type = "float", low = 1e-8, high = 1e-4, log = true }
optimizer = { type = "categorical", choices = ["sgd", "momentum", "adam"] }
momentum = { type = "float", low = 0.5, high = 0.99, when = { optimizer = ["momentum"] } }
batch_norm = { type = "categorical", choices = [true, false] }
hidden = { type = "categorical", choices = ["100,100", "50,50,50"] }
batch_size = { type = "int", low = 16, high = 256, log = true, grid = [16, 64, 256] }
epochs_x = { type = "int", low = 2, high = 20, step = 2 }
dropout = { type = "float", low = 0.0, high = 0.5, step = 0.05, grid_points = 3 }
[train]
data = "fashion-mnist"
"#;

#[test]
fn example_file_keeps_order_types_conditions_and_train_table() {
    let f = SpaceFile::from_toml_str(EXAMPLE, "space.toml").unwrap();
    let names: Vec<&str> = f.space.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "lr",
            "weight_decay",
            "optimizer",
            "momentum",
            "batch_norm",
            "hidden",
            "batch_size",
            "epochs_x",
            "dropout"
        ]
    );
    let s = &f.space;
    assert_eq!(
        s.get("lr").unwrap().dist,
        Distribution::Float {
            low: 1e-6,
            high: 1e-2,
            step: None,
            log: true
        }
    );
    assert_eq!(
        s.get("epochs_x").unwrap().dist,
        Distribution::Int {
            low: 2,
            high: 20,
            step: 2,
            log: false
        }
    );
    assert_eq!(
        s.get("batch_norm").unwrap().dist,
        Distribution::Categorical {
            choices: vec![ParamValue::Bool(true), ParamValue::Bool(false)]
        }
    );
    assert_eq!(
        s.get("momentum").unwrap().when,
        vec![(
            "optimizer".to_string(),
            vec![ParamValue::Str("momentum".into())]
        )]
    );
    assert_eq!(f.train["data"].as_str(), Some("fashion-mnist"));
    assert_eq!(f.grids.0["batch_size"], vec![16.0, 64.0, 256.0]);
    assert_eq!(f.grids.0["dropout"], vec![0.0, 0.25, 0.5]);
    // Defaults: every int of a range, five floats spaced geometrically on a log scale.
    assert_eq!(f.grids.values(s.get("epochs_x").unwrap()).len(), 10);
    let lr = f.grids.values(s.get("lr").unwrap());
    assert_eq!(lr.len(), 5);
    assert!((lr[2] - 1e-4).abs() < 1e-12, "{lr:?}");
    let (space, train) = Space::from_toml_str(EXAMPLE, "space.toml").unwrap();
    assert_eq!(space, f.space);
    assert_eq!(train, f.train);
}

#[test]
fn json_round_trips_with_stable_text() {
    let (s, _) = Space::from_toml_str(EXAMPLE, "space.toml").unwrap();
    let j = s.to_json();
    let back = Space::from_json(&j).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.to_json().to_string(), j.to_string());
    let (other, _) =
        Space::from_toml_str(&EXAMPLE.replace("high = 0.99", "high = 0.95"), "space.toml").unwrap();
    assert_ne!(other.to_json(), j);
    assert!(Space::from_json(&serde_json::json!({"params": [{"name": "x"}]})).is_err());
}

#[test]
fn int_parents_and_float_choices_match_numerically() {
    let text = r#"
[params]
layers = { type = "int", low = 1, high = 3 }
width2 = { type = "int", low = 8, high = 64, when = { layers = [2, 3] } }
scale = { type = "categorical", choices = [0.5, 1.0] }
extra = { type = "float", low = 0.0, high = 1.0, when = { scale = [1] } }
"#;
    let (s, _) = Space::from_toml_str(text, "s.toml").unwrap();
    assert_eq!(
        s.get("extra").unwrap().when[0].1,
        vec![ParamValue::Float(1.0)]
    );
    let w = s.get("width2").unwrap();
    let mut a = optimlab::tune::trial::Params::new();
    a.insert("layers".into(), 1.0);
    assert!(!s.is_active(w, &a));
    a.insert("layers".into(), 3.0);
    assert!(s.is_active(w, &a));
}

fn err(params: &str) -> String {
    let text = format!(
        "# a comment\n[params]\nx = {{ type = \"categorical\", choices = [\"a\", \"b\"] }}\n{params}\n"
    );
    match Space::from_toml_str(&text, "space.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "one line: {m}");
            m
        }
    }
}

#[test]
fn error_low_not_below_high_names_line_and_key() {
    assert_eq!(
        err("momentum = { type = \"float\", low = 0.99, high = 0.5 }"),
        "space.toml line 4, params.momentum: low (0.99) must be below high (0.5)"
    );
    assert!(err("n = { type = \"int\", low = 5, high = 5 }").contains("line 4, params.n: low (5)"));
}

#[test]
fn error_unknown_type() {
    let m = err("y = { type = \"double\", low = 0, high = 1 }");
    assert!(
        m.starts_with("space.toml line 4, params.y: unknown type 'double'"),
        "{m}"
    );
}

#[test]
fn error_missing_low_or_high_or_type() {
    assert!(err("y = { type = \"float\", high = 1 }").contains("line 4, params.y: missing low"));
    assert!(err("y = { type = \"int\", low = 1 }").contains("line 4, params.y: missing high"));
    assert!(err("y = { low = 1, high = 2 }").contains("line 4, params.y: missing type"));
}

#[test]
fn error_log_with_nonpositive_low() {
    let m = err("y = { type = \"float\", low = 0.0, high = 1.0, log = true }");
    assert!(
        m.contains("line 4, params.y: log scale needs low > 0"),
        "{m}"
    );
}

#[test]
fn error_log_with_step() {
    let m = err("y = { type = \"float\", low = 0.1, high = 1.0, log = true, step = 0.1 }");
    assert!(
        m.contains("line 4, params.y: step cannot be used with log"),
        "{m}"
    );
    let m = err("y = { type = \"int\", low = 1, high = 9, log = true, step = 2 }");
    assert!(
        m.contains("line 4, params.y: step cannot be used with log"),
        "{m}"
    );
}

#[test]
fn error_step_not_dividing_range() {
    let m = err("y = { type = \"float\", low = 0.0, high = 1.0, step = 0.3 }");
    assert!(
        m.contains("line 4, params.y: step 0.3 does not divide the range 0..1 (use high = 0.9"),
        "{m}"
    );
    let m = err("y = { type = \"int\", low = 1, high = 10, step = 2 }");
    assert!(m.contains("(use high = 9)"), "{m}");
}

#[test]
fn error_empty_or_repeated_choices() {
    assert!(
        err("y = { type = \"categorical\", choices = [] }")
            .contains("line 4, params.y: choices is empty")
    );
    assert!(err("y = { type = \"categorical\", choices = [1, 1] }").contains("repeated"));
}

#[test]
fn error_unknown_keys() {
    let m = err("y = { type = \"float\", low = 0.0, high = 1.0, lgo = true }");
    assert!(m.contains("line 4, params.y: unknown key 'lgo'"), "{m}");
    let m = err("y = { type = \"categorical\", choices = [1], low = 0 }");
    assert!(m.contains("unknown key 'low' for a categorical"), "{m}");
    let text = "[params]\nx = { type = \"int\", low = 0, high = 3 }\n[tarin]\nz = 1\n";
    let m = Space::from_toml_str(text, "space.toml")
        .unwrap_err()
        .to_string();
    assert!(
        m.starts_with("space.toml line 3, tarin: unknown key"),
        "{m}"
    );
}

#[test]
fn error_when_names_unknown_parameter() {
    let m = err("y = { type = \"float\", low = 0.0, high = 1.0, when = { opt = [\"a\"] } }");
    assert!(
        m.contains("line 4, params.y: when names unknown parameter 'opt'"),
        "{m}"
    );
}

#[test]
fn error_when_names_later_parameter() {
    let m = err(
        "y = { type = \"float\", low = 0.0, high = 1.0, when = { z = [\"a\"] } }\nz = { type = \"categorical\", choices = [\"a\"] }",
    );
    assert!(
        m.contains("line 4, params.y: when names 'z', declared later"),
        "{m}"
    );
}

#[test]
fn error_when_value_not_among_choices() {
    let m = err("y = { type = \"float\", low = 0.0, high = 1.0, when = { x = [\"c\"] } }");
    assert!(
        m.contains("line 4, params.y: when.x: \"c\" is not a value of 'x'"),
        "{m}"
    );
}

#[test]
fn error_when_parent_is_float() {
    let m = err(
        "f = { type = \"float\", low = 0.0, high = 1.0 }\ny = { type = \"int\", low = 0, high = 3, when = { f = [0.5] } }",
    );
    assert!(
        m.contains("line 5, params.y: when names 'f', a float"),
        "{m}"
    );
}

#[test]
fn error_grid_value_outside_range() {
    let m = err("y = { type = \"int\", low = 0, high = 3, grid = [0, 7] }");
    assert!(
        m.contains("line 4, params.y: grid value 7 is outside"),
        "{m}"
    );
}

#[test]
fn error_toml_syntax_names_line() {
    let m = Space::from_toml_str(
        "[params]\nx = { type = \"int\", low = 0, high = }\n",
        "space.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(m.starts_with("space.toml line 2:"), "{m}");
    assert!(!m.contains('\n'));
}

#[test]
fn error_no_params() {
    let m = Space::from_toml_str("[train]\nx = 1\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(m.contains("s.toml: no [params] table"), "{m}");
}

#[test]
fn multi_line_tables_point_at_the_offending_key() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\nlog = true\nstep = 0.1\n";
    let m = Space::from_toml_str(text, "space.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        "space.toml line 6, params.lr: step cannot be used with log = true"
    );
}
