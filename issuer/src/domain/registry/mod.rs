//! Registry import: insured persons from CSV or JSON Lines, streamed in batches.
//!
//! Every row is validated whole (ID check digit, birth date against the ID, region, enums)
//! before anything is written, and becomes one record: a bad row is reported by line number
//! and skipped, never half-applied. Memory stays flat whatever the file size (one batch at a
//! time), and re-importing a file is idempotent (rows replace by ID-number key, so a status
//! change such as a suspension takes effect).

mod row;
mod write;

pub use self::row::{MAX_GUARDIANS, Row, person_from_row};

use std::io::{BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use yibao_shared::UnixTime;

use crate::model::Person;
use crate::secrets::IndexKey;
use crate::store::{Store, StoreError};

use self::write::Pace;

/// Rows parsed per batch, and the largest piece written at once (`write.rs` sizes pieces by
/// the store's answer time below that).
///
/// Large on purpose: ID-number keys are keyed hashes, so rows land all over the store's
/// B-tree, and every transaction copies each page it touches. Fewer, larger batches copy
/// each page fewer times. 50,000 rows are about 20 MB in flight.
pub const BATCH: usize = 50_000;

/// Input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// Guesses from a file name (`.csv`, `.jsonl`, `.ndjson`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// One refused row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why (never quotes the name or the ID number).
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows written.
    pub applied: u64,
    /// Rows refused, in file order.
    pub bad: Vec<BadRow>,
    /// Pieces sent again because the store did not answer in time.
    pub retries: u64,
    /// Vouchers of persons no longer insured whose certificates this import revoked.
    pub vouchers_stopped: u64,
    /// Device and proxy certificates revoked for them.
    pub certificates_revoked: u64,
}

/// Why an import stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The store failed (after retries, if it was not answering in time); the rows before
    /// the failing piece are applied (re-run the import: it is idempotent).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file could not be read.
    #[error("reading the file: {0}")]
    Read(String),
}

/// How far an import has come, for a progress bar: what is *written*, not what is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows written so far.
    pub applied: u64,
    /// Bytes of the file up to the last row written (a bar over the file's size).
    pub bytes: u64,
    /// Set while a piece the store did not answer in time waits to be sent again.
    pub retrying: Option<String>,
}

/// Streams `input` into `store`; `now` dates the revocations of rows no longer insured
/// (`write.rs`). `on_progress` is called after every piece the store took and before every
/// retry.
///
/// # Errors
///
/// [`ImportError`] if the file cannot be read or the store fails; bad rows are not errors.
pub async fn import(
    input: impl Read,
    format: Format,
    store: &dyn Store,
    index: &IndexKey,
    now: UnixTime,
    mut on_progress: impl FnMut(&Progress),
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let read = Arc::new(AtomicU64::new(0));
    let mut rows = rows(
        Counted {
            inner: input,
            read: Arc::clone(&read),
        },
        format,
    );
    let mut pace = Pace::new(BATCH, store.answer_deadline());
    let mut batch = next_batch(&mut rows, index, &mut report, &read)?;
    let mut progress = Progress::default();
    while !batch.rows.is_empty() {
        // Write this batch while the next one is parsed and hashed: the embedded store writes
        // on a blocking thread, Redis waits on the network, so both overlap with the CPU
        // work here.
        let (start_bytes, end_bytes) = (progress.bytes, batch.bytes);
        let total = batch.rows.len().max(1) as u64;
        let applied_before = report.applied;
        let (written, next) = tokio::join!(
            pace.write(store, &batch.rows, now, |done, retrying| {
                progress.applied = applied_before + done as u64;
                // Bytes in proportion within the batch: rows are of about one size.
                progress.bytes = start_bytes + (end_bytes - start_bytes) * done as u64 / total;
                progress.retrying =
                    retrying.map(|e| format!("store did not answer ({e}); retrying"));
                on_progress(&progress);
            }),
            async { next_batch(&mut rows, index, &mut report, &read) }
        );
        let written = written?;
        report.applied = applied_before + batch.rows.len() as u64;
        report.retries += written.retries;
        report.vouchers_stopped += written.vouchers_stopped;
        report.certificates_revoked += written.certificates_revoked;
        batch = next?;
    }
    Ok(report)
}

/// Valid rows read in one go, and how far into the file they end.
struct Batch {
    rows: Vec<Person>,
    bytes: u64,
}

/// Reads up to [`BATCH`] valid rows (bad ones go to the report), sorted by key so a B-tree
/// store inserts them in order.
fn next_batch(
    rows: &mut dyn Iterator<Item = Item>,
    index: &IndexKey,
    report: &mut ImportReport,
    read: &AtomicU64,
) -> Result<Batch, ImportError> {
    let mut batch = Vec::with_capacity(BATCH);
    for item in rows {
        let (line, parsed) = item.map_err(ImportError::Read)?;
        report.rows += 1;
        match parsed.and_then(|row| person_from_row(&row, index)) {
            Ok(person) => batch.push(person),
            Err(reason) => report.bad.push(BadRow { line, reason }),
        }
        if batch.len() == BATCH {
            break;
        }
    }
    batch.sort_unstable_by_key(|p| p.id_key);
    Ok(Batch {
        rows: batch,
        bytes: read.load(Ordering::Relaxed),
    })
}

/// The file as read, counting its bytes for [`Progress::bytes`].
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Item = Result<(u64, Result<Row, String>), String>;

/// Rows with their line numbers; a row that does not parse is `Ok((line, Err(reason)))`,
/// an unreadable file is `Err`.
fn rows<'a>(input: impl Read + 'a, format: Format) -> Box<dyn Iterator<Item = Item> + 'a> {
    // The iterator owns the reader; boxing keeps `import` independent of the format.
    let input: Box<dyn Read + 'a> = Box::new(input);
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .flexible(true)
                .from_reader(input);
            let headers = match reader.headers() {
                Ok(h) => h.clone(),
                Err(e) => return Box::new(std::iter::once(Err(format!("CSV header: {e}")))),
            };
            Box::new(reader.into_records().map(move |record| {
                let record = match record {
                    Ok(record) => record,
                    Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                        return Err(e.to_string());
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, csv::Position::line);
                        return Ok((line, Err("not a well-formed CSV row".to_owned())));
                    }
                };
                let line = record.position().map_or(0, csv::Position::line);
                // A row may leave out trailing optional columns (`guardian_id_numbers`):
                // missing fields read as empty, and required ones are then refused by name.
                let mut record = record;
                while record.len() < headers.len() {
                    record.push_field("");
                }
                // Every field is a string, so serde's message names a field, never a value.
                let row = record
                    .deserialize::<Row>(Some(&headers))
                    .map_err(|e| match e.kind() {
                        csv::ErrorKind::Deserialize { err, .. } => format!("{}", err.kind()),
                        _ => "not a registry row".to_owned(),
                    });
                Ok((line, row))
            }))
        }
        Format::Jsonl => Box::new(
            std::io::BufReader::new(input)
                .lines()
                .enumerate()
                .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
                .map(|(i, l)| {
                    let line = i as u64 + 1;
                    let text = l.map_err(|e| e.to_string())?;
                    Ok((
                        line,
                        serde_json::from_str::<Row>(&text).map_err(|e| {
                            // serde_json quotes unknown field names but not values.
                            format!("not a registry row: {}", e.classify_reason())
                        }),
                    ))
                }),
        ),
    }
}

trait ClassifyReason {
    fn classify_reason(&self) -> &'static str;
}

impl ClassifyReason for serde_json::Error {
    fn classify_reason(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "missing, unknown or mistyped field",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "invalid JSON"
            }
            serde_json::error::Category::Io => "unreadable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_number::{BirthDate, IdNumber};
    use crate::model::InsuredStatus;
    use crate::secrets::IdKey;
    use yibao_shared::InsuranceType;

    /// `import` of `text` into `store` with the tests' index key, for its report.
    async fn import_text(text: &[u8], format: Format, store: &dyn Store) -> ImportReport {
        import(
            text,
            format,
            store,
            &index(),
            UnixTime::from_secs(0),
            |_| {},
        )
        .await
        .expect("imports")
    }
    use crate::id_number::synthetic;
    use crate::store::EmbeddedStore;

    fn index() -> IndexKey {
        IndexKey::new(vec![3; 32]).expect("32 bytes")
    }

    fn id(n: u16) -> String {
        synthetic(
            1,
            BirthDate {
                year: 1980,
                month: 5,
                day: 17,
            },
            n,
        )
    }

    const HEADER: &str = "person_no,name,id_number,gender,birth_date,region,insurance,status\n";

    #[tokio::test]
    async fn bad_rows_are_reported_by_line_and_never_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let mut bad_check = id(2);
        bad_check.replace_range(17.., if bad_check.ends_with('0') { "1" } else { "0" });
        let csv = format!(
            "{HEADER}P1,测试甲,{},female,1980-05-17,110105,resident,insured\n\
             P2,测试乙,{bad_check},male,1980-05-17,110105,resident,insured\n\
             P3,测试丙,{},male,1980-05-18,110105,resident,insured\n\
             P4,测试丁,{},male,1980-05-17,11010,resident,insured\n\
             P5,\"测试\n戊\",{},male,1980-05-17,110105,resident,insured\n\
             P6,测试己,{},male,1980-05-17,110105,resident\n\
             P7,测试庚,{},女,1980-05-17,310101,职工,参保\n",
            id(1),
            id(3),
            id(4),
            id(5),
            id(6),
            id(7)
        );
        let report = import_text(csv.as_bytes(), Format::Csv, &store).await;
        assert_eq!(report.rows, 7);
        assert_eq!(report.applied, 2, "{:?}", report.bad);
        let lines: Vec<u64> = report.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 8]);
        assert!(report.bad[0].reason.contains("check digit"));
        assert!(report.bad[1].reason.contains("does not match"));
        assert!(report.bad[2].reason.contains("region"));
        assert!(
            report.bad[3].reason.contains("name"),
            "{}",
            report.bad[3].reason
        );
        for bad in &report.bad {
            assert!(
                !bad.reason.contains("9901"),
                "an ID number leaked: {}",
                bad.reason
            );
            assert!(
                !bad.reason.contains("测试"),
                "a name leaked: {}",
                bad.reason
            );
        }
        let p7 = IdNumber::parse(&id(7)).expect("valid");
        let stored = store
            .person(&index().id_key(&p7))
            .await
            .expect("get")
            .expect("applied");
        assert_eq!(stored.insurance, InsuranceType::Employee);
        assert_eq!(stored.masked_name.as_str(), "测*庚");
    }

    #[tokio::test]
    async fn json_lines_reimport_updates_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let row = |status: &str| {
            format!(
                "{{\"person_no\":\"P1\",\"name\":\"测试甲\",\"id_number\":\"{}\",\"gender\":\"1\",\"birth_date\":\"1980-05-17\",\"region\":\"110105\",\"insurance\":\"resident\",\"status\":\"{status}\"}}\n",
                id(1)
            )
        };
        let first = format!("{}\n{{\"person_no\":\"P2\",\"extra\":1}}\n", row("insured"));
        let report = import_text(first.as_bytes(), Format::Jsonl, &store).await;
        assert_eq!((report.rows, report.applied), (2, 1));
        assert_eq!(report.bad[0].line, 3);
        let again = import_text(row("suspended").as_bytes(), Format::Jsonl, &store).await;
        assert_eq!(again.applied, 1);
        let key = index().id_key(&IdNumber::parse(&id(1)).expect("valid"));
        let person = store.person(&key).await.expect("get").expect("stored");
        assert_eq!(person.status, InsuredStatus::Suspended);
    }

    #[tokio::test]
    async fn identity_columns_are_checked_and_sealed_for_the_person_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let header = HEADER.trim_end().to_owned()
            + ",ethnicity,person_type,insured_since,civil_servant,employer\n";
        let row = |n: u16, extra: &str| {
            format!(
                "P{n},测试甲,{},female,1980-05-17,110105,employee,insured,{extra}\n",
                id(n)
            )
        };
        let csv = header
            + &row(1, "01,11,2010-07-01,1,示例单位")
            + &row(2, "1,11,,,")
            + &row(3, "01,11,2010-02-30,,")
            + &row(4, "01,1 1,,,")
            + &row(5, "01,11,,maybe,")
            + &row(6, ",,,,");
        let report = import_text(csv.as_bytes(), Format::Csv, &store).await;
        let reasons: Vec<(u64, &str)> = report
            .bad
            .iter()
            .map(|b| (b.line, b.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (3, "ethnicity: two digits"),
                (4, "insured_since: expected a real date YYYY-MM-DD"),
                (5, "person_type: up to 6 letters or digits"),
                (6, "civil_servant: 1 or 0"),
            ]
        );
        assert_eq!(report.applied, 2);
        let key = |n| index().id_key(&IdNumber::parse(&id(n)).expect("valid"));
        let person = store
            .person(&key(1))
            .await
            .expect("read")
            .expect("imported");
        let sealed = person.identity.expect("sealed identity");
        let details = crate::sealed::open(&index(), &key(1), &sealed).expect("opens");
        assert_eq!(details.id_number, id(1));
        assert_eq!(details.name, "测试甲");
        assert_eq!(
            (details.ethnicity.as_str(), details.person_type.as_str()),
            ("01", "11")
        );
        assert_eq!(details.insured_since, "2010-07-01");
        assert!(details.civil_servant);
        assert_eq!(details.employer, "示例单位");
        // Sealed to its person: another person's key does not open it.
        assert!(crate::sealed::open(&index(), &key(6), &sealed).is_none());
        // Optional columns left empty still seal the ID number and the name.
        let plain = store
            .person(&key(6))
            .await
            .expect("read")
            .expect("imported");
        let details = crate::sealed::open(&index(), &key(6), &plain.identity.expect("sealed"))
            .expect("opens");
        assert_eq!(
            (details.ethnicity.as_str(), details.civil_servant),
            ("", false)
        );
    }

    #[tokio::test]
    async fn guardians_are_stored_as_keys_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let child = |n: u16| {
            let birth = BirthDate {
                year: 2018,
                month: 6,
                day: 1,
            };
            synthetic(1, birth, n)
        };
        let csv = format!(
            "{}P1,测试甲,{},female,2018-06-01,110105,resident,insured,{};{}\n\
             P2,测试乙,{},female,2018-06-01,110105,resident,insured,{}\n\
             P3,测试丙,{},female,2018-06-01,110105,resident,insured,{};{};{}\n\
             P4,测试丁,{},female,2018-06-01,110105,resident,insured,12345\n",
            HEADER.trim_end().to_owned() + ",guardian_id_numbers\n",
            child(1),
            id(1),
            id(2),
            child(2),
            child(2),
            child(3),
            id(1),
            id(2),
            id(3),
            child(4),
        );
        let report = import_text(csv.as_bytes(), Format::Csv, &store).await;
        assert_eq!(report.applied, 1, "{:?}", report.bad);
        let reasons: Vec<&str> = report.bad.iter().map(|b| b.reason.as_str()).collect();
        assert!(reasons[0].contains("own guardian"), "{reasons:?}");
        assert!(reasons[1].contains("at most 2"), "{reasons:?}");
        assert!(reasons[2].starts_with("guardian_id_numbers"), "{reasons:?}");
        let key = index().id_key(&IdNumber::parse(&child(1)).expect("valid"));
        let stored = store.person(&key).await.expect("get").expect("stored");
        let expected: Vec<IdKey> = [id(1), id(2)]
            .iter()
            .map(|g| index().id_key(&IdNumber::parse(g).expect("valid")))
            .collect();
        assert_eq!(stored.guardians, expected);
    }
}
