//! `admin institution import FILE`: a national list of designated institutions (CSV with a
//! header row `code,name,kind,region,accepts_voucher`, or JSON Lines with those fields),
//! read as a stream and sent in batches of 1000. A row that does not parse is reported by
//! line here; a row the issuer refuses is reported by line from its answer; the rest are
//! written. Importing again is idempotent (institutions are replaced by code).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yibao_issuer::domain::registry::Format;

use super::client::{AdminClient, CliError};

/// Rows per request (the API's largest batch).
const BATCH: usize = 1_000;

/// Bad rows printed before the rest are only counted.
const SHOWN_BAD_ROWS: usize = 100;

/// The fields of a row, as the CSV header names them.
const FIELDS: [&str; 5] = ["code", "name", "kind", "region", "accepts_voucher"];

/// A row as the file has it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Row {
    code: String,
    name: String,
    kind: String,
    region: String,
    accepts_voucher: bool,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Rows read (header excluded).
    pub rows: u64,
    /// Institutions written.
    pub imported: u64,
    /// Bad rows: `(line, why)`.
    pub bad: Vec<(u64, String)>,
    /// Seconds taken.
    pub seconds: f64,
}

/// Imports `file` through `client`, showing progress on a terminal.
///
/// # Errors
///
/// [`CliError::Usage`] for an unreadable file or unknown format; the client's errors for a
/// batch the issuer refused as a whole or could not be reached for (rows before it are
/// written, and re-running is safe).
pub async fn import(
    client: &AdminClient,
    file: &Path,
    format: Option<Format>,
) -> Result<ImportReport, CliError> {
    // The registry import's formats, guessed from the extension the same way.
    let jsonl = match format.or_else(|| Format::from_path(file)) {
        Some(format) => format == Format::Jsonl,
        None => {
            return Err(CliError::Usage(format!(
                "{}: say --format csv or --format jsonl",
                file.display()
            )));
        }
    };
    let opened =
        File::open(file).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
    {
        progress.set_style(style);
    }
    let started = std::time::Instant::now();
    let mut report = ImportReport::default();
    let mut batch: Vec<(u64, Row)> = Vec::with_capacity(BATCH);
    let mut reader = BufReader::new(opened);
    let mut header: Option<csv::StringRecord> = None;
    let mut line = String::new();
    let mut number = 0_u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| {
            CliError::Usage(format!("{}: line {}: {e}", file.display(), number + 1))
        })?;
        if read == 0 {
            break;
        }
        number += 1;
        progress.inc(read as u64);
        // Spreadsheets export UTF-8 with a byte-order mark.
        let text = line
            .trim_end_matches(['\n', '\r'])
            .trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            continue;
        }
        let parsed = if jsonl {
            serde_json::from_str::<Row>(text).map_err(|e| e.to_string())
        } else if let Some(header) = &header {
            csv_row(header, text)
        } else {
            header = Some(
                csv_header(text)
                    .map_err(|e| CliError::Usage(format!("{}: header: {e}", file.display())))?,
            );
            continue;
        };
        report.rows += 1;
        let parsed = parsed.and_then(|row| match row.kind.as_str() {
            "hospital" | "pharmacy" => Ok(row),
            other => Err(format!("kind {other:?}: expected hospital or pharmacy")),
        });
        match parsed {
            Ok(row) => batch.push((number, row)),
            Err(why) => report.bad.push((number, why)),
        }
        if batch.len() == BATCH {
            send(client, &mut batch, &mut report).await?;
            progress.set_message(format!("{} imported", report.imported));
        }
    }
    if !batch.is_empty() {
        send(client, &mut batch, &mut report).await?;
    }
    progress.finish_and_clear();
    report.bad.sort_by_key(|(line, _)| *line);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn csv_record(text: &str) -> Result<csv::StringRecord, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .next()
        .unwrap_or_else(|| Ok(csv::StringRecord::new()))
        .map_err(|e| e.to_string())
}

/// The header row, which must name every field (in any order; nothing else).
fn csv_header(text: &str) -> Result<csv::StringRecord, String> {
    let header = csv_record(text)?;
    let mut names: Vec<&str> = header.iter().map(str::trim).collect();
    names.sort_unstable();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    if names != expected {
        return Err(format!("expected the columns {}", FIELDS.join(",")));
    }
    Ok(header.iter().map(str::trim).collect())
}

fn csv_row(header: &csv::StringRecord, text: &str) -> Result<Row, String> {
    let record = csv_record(text)?;
    if record.len() != header.len() {
        return Err(format!(
            "{} fields, the header has {}",
            record.len(),
            header.len()
        ));
    }
    record
        .deserialize::<Row>(Some(header))
        .map_err(|e| e.to_string())
}

/// Sends one batch and folds the issuer's answer into `report`.
async fn send(
    client: &AdminClient,
    batch: &mut Vec<(u64, Row)>,
    report: &mut ImportReport,
) -> Result<(), CliError> {
    let rows: Vec<&Row> = batch.iter().map(|(_, row)| row).collect();
    let answer = client
        .post(
            "/v1/admin/institutions/batch",
            Some(&json!({ "institutions": rows })),
        )
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        // A row whose fields are of the wrong kind fails the whole batch's body: send the
        // rows one at a time to tell which.
        Err(CliError::Refused { code, .. }) if code == "invalid-body" && batch.len() > 1 => {
            for one in std::mem::take(batch) {
                let mut single = vec![one];
                Box::pin(send(client, &mut single, report)).await?;
            }
            return Ok(());
        }
        Err(CliError::Refused { code, message }) if code == "invalid-body" => {
            let (line, _) = &batch[0];
            report.bad.push((*line, format!("{code}: {message}")));
            batch.clear();
            return Ok(());
        }
        Err(other) => return Err(other),
    };
    report.imported += answer["imported"].as_u64().unwrap_or(0);
    for rejected in answer["rejected"].as_array().into_iter().flatten() {
        let index = rejected["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok());
        if let Some((line, _)) = index.and_then(|i| batch.get(i)) {
            let code = rejected["code"].as_str().unwrap_or("refused");
            let message = rejected["message"].as_str().unwrap_or("");
            report.bad.push((*line, format!("{code}: {message}")));
        }
    }
    batch.clear();
    Ok(())
}

/// Prints what an import did: bad rows by line on stderr, a summary on stdout (or JSON).
pub fn print_report(json: bool, report: &ImportReport) {
    for (line, why) in report.bad.iter().take(SHOWN_BAD_ROWS) {
        eprintln!("line {line}: {why}");
    }
    if report.bad.len() > SHOWN_BAD_ROWS {
        eprintln!("… and {} more bad rows", report.bad.len() - SHOWN_BAD_ROWS);
    }
    let per_sec = report.imported as f64 / report.seconds.max(1e-9);
    if json {
        let bad: Vec<Value> = report
            .bad
            .iter()
            .map(|(line, why)| json!({"line": line, "error": why}))
            .collect();
        println!(
            "{:#}",
            json!({"rows": report.rows, "imported": report.imported, "bad": bad,
                "seconds": report.seconds, "rows_per_sec": per_sec.round()})
        );
    } else {
        println!(
            "{} rows read, {} imported, {} bad, in {:.1} s ({:.0} rows/s)",
            report.rows,
            report.imported,
            report.bad.len(),
            report.seconds,
            per_sec
        );
    }
}
