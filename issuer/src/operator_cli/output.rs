//! What the command line prints: a table for people (columns padded by display width, so
//! Chinese names line up), or the API's JSON for scripts (`--json`).

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

/// Prints `rows` (objects) as a table of `columns` (`(heading, field)`), or all of `value` as
/// JSON.
pub fn print_rows(json: bool, value: &Value, rows: &[Value], columns: &[(&str, &str)]) {
    if json {
        println!("{value:#}");
        return;
    }
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|(heading, _)| *heading));
    for row in rows {
        table.add_row(columns.iter().map(|(_, field)| cell(row.get(*field))));
    }
    println!("{table}");
}

/// Prints one object as `field: value` lines, or as JSON.
pub fn print_object(json: bool, value: &Value, fields: &[(&str, &str)]) {
    if json {
        println!("{value:#}");
        return;
    }
    let width = fields
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    for (label, path) in fields {
        let field = path
            .split('.')
            .try_fold(value, |v, key| v.get(key))
            .filter(|v| !v.is_null());
        if let Some(field) = field {
            println!("{label:width$}  {}", cell(Some(field)));
        }
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "(all)".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Bool(true)) => "yes".into(),
        Some(Value::Bool(false)) => "no".into(),
        Some(other) => other.to_string(),
    }
}
