//! `yibao-issuer demo`: everything a newcomer needs to try the product on one machine, on
//! the embedded store. First start creates dev keys, a synthetic registry of obviously fake
//! people (names 测试…, ID numbers starting 99, which no real region has), a demo channel,
//! institution and terminal, and three activated holders, and writes `demo.json`; later
//! starts reuse all of it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use yibao_keys::{KeyDir, NewIssuerKey};
use yibao_shared::{RegionCode, UnixTime};

use crate::domain::activation::{self, Attestation};
use crate::domain::context::Context;
use crate::domain::registry::{self, Format};
use crate::id_number::{BirthDate, synthetic};
use crate::model::{Channel, Institution, InstitutionKind, Terminal};
use crate::secrets::new_credential;

/// People in the synthetic registry.
pub const REGISTRY_SIZE: usize = 1_000;
const REGIONS: [&str; 4] = ["110105", "310101", "440305", "510104"];
const STEMS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];

/// What the demo created, written to `<data_dir>/demo.json` (mode 0600: it holds
/// credentials).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoInfo {
    /// Where the service listens.
    pub base_url: String,
    /// The demo channel's API key.
    pub channel_key: String,
    /// Activated holders.
    pub holders: Vec<DemoHolder>,
    /// The demo terminal.
    pub terminal: DemoTerminal,
    /// File of the admin token.
    pub admin_token_file: PathBuf,
    /// Trust bundle file (also served at /v1/trust-bundle).
    pub bundle_path: PathBuf,
    /// Root public key file to pin on terminals.
    pub root_key_path: PathBuf,
}

/// An activated demo holder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoHolder {
    /// Masked name.
    pub masked_name: String,
    /// Voucher id.
    pub voucher_id: String,
    /// Holder credential (demo only).
    pub holder_credential: String,
}

/// The demo terminal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoTerminal {
    /// Institution code.
    pub institution: String,
    /// Terminal id.
    pub id: String,
    /// Terminal credential (demo only).
    pub credential: String,
}

/// A synthetic person's row values.
#[derive(Debug)]
pub struct SyntheticPerson {
    /// Full (fake) name.
    pub name: String,
    /// Valid, fake ID number.
    pub id_number: String,
}

/// The `i`-th synthetic person (deterministic).
pub fn synthetic_person(i: usize) -> (SyntheticPerson, BirthDate, &'static str) {
    let birth = BirthDate {
        year: 1940 + (i % 70) as u16,
        month: 1 + (i % 12) as u8,
        day: 1 + (i % 28) as u8,
    };
    let person = SyntheticPerson {
        name: format!("测试{}{}", STEMS[i % 10], i),
        id_number: synthetic((i / 1000) as u8, birth, (i % 1000) as u16),
    };
    (person, birth, REGIONS[i % REGIONS.len()])
}

/// The demo's child: 7 years old, enrolled in resident insurance by synthetic person 0 (the
/// first demo holder), who is her registered guardian.
pub fn demo_child() -> SyntheticPerson {
    let birth = BirthDate {
        year: 2019,
        month: 6,
        day: 1,
    };
    SyntheticPerson {
        name: "测试小宝".into(),
        id_number: synthetic(9, birth, 1),
    }
}

fn demo_child_row() -> String {
    let child = demo_child();
    format!(
        "person_no,name,id_number,gender,birth_date,region,insurance,status,guardian_id_numbers\n\
         DEMOCHILD1,{},{},female,2019-06-01,110105,resident,insured,{}\n",
        child.name,
        child.id_number,
        synthetic_person(0).0.id_number
    )
}

/// A CSV registry of `n` synthetic people (every 50th suspended).
pub fn synthetic_registry(n: usize) -> String {
    let mut csv = String::from(REGISTRY_HEADER);
    for i in 0..n {
        let status = if i % 50 == 49 { "suspended" } else { "insured" };
        csv.push_str(&synthetic_row(i, status));
    }
    csv
}

/// The header of [`synthetic_registry`]'s CSV.
pub const REGISTRY_HEADER: &str =
    "person_no,name,id_number,gender,birth_date,region,insurance,status,guardian_id_numbers\n";

/// Synthetic person `i`'s registry row (as in [`synthetic_registry`]) with `status`
/// (`insured`, `suspended`, `terminated`): a registry change to import.
pub fn synthetic_row(i: usize, status: &str) -> String {
    let (p, birth, region) = synthetic_person(i);
    format!(
        "DEMO{i:06},{},{},{},{birth},{region},{},{status},\n",
        p.name,
        p.id_number,
        if i % 2 == 0 { "female" } else { "male" },
        if i % 3 == 0 { "employee" } else { "resident" },
    )
}

/// Creates dev keys in `dir` if missing, and a fresh bundle if the current one expires within
/// a week.
///
/// # Errors
///
/// Key directory I/O errors.
pub fn ensure_keys(dir: &Path, now: UnixTime) -> anyhow::Result<()> {
    let keys = KeyDir::new(dir);
    if !keys.root_public_path().exists() {
        keys.create_root().context("creating the dev root key")?;
        keys.create_issuer_key(&NewIssuerKey {
            key_id: None,
            regions: vec![],
            not_before: now.saturating_sub(60),
            not_after: now.saturating_add(365 * 86_400),
        })
        .context("creating the dev issuer key")?;
    }
    let fresh = std::fs::read_to_string(keys.bundle_path())
        .ok()
        .and_then(|doc| yibao_shared::TrustBundle::open(&doc, &keys.root_public().ok()?).ok())
        .is_some_and(|b| b.expires_at > now.saturating_add(7 * 86_400));
    if !fresh {
        keys.sign_bundle(now, 30 * 86_400)
            .context("signing the dev bundle")?;
    }
    Ok(())
}

/// Fills a fresh demo store and returns what was created; reuses `demo.json` if present.
///
/// # Errors
///
/// Store or I/O failures.
pub async fn populate(
    state: &Context,
    data_dir: &Path,
    base_url: &str,
) -> anyhow::Result<DemoInfo> {
    let info_path = data_dir.join("demo.json");
    if let Ok(text) = std::fs::read_to_string(&info_path) {
        let mut info: DemoInfo = serde_json::from_str(&text).context("reading demo.json")?;
        info.base_url = base_url.to_owned();
        return Ok(info);
    }
    let registry = synthetic_registry(REGISTRY_SIZE);
    let report = registry::import(
        registry.as_bytes(),
        Format::Csv,
        &*state.store,
        &state.index,
        state.clock.now(),
        |_| {},
    )
    .await
    .context("importing the synthetic registry")?;
    anyhow::ensure!(
        report.bad.is_empty(),
        "synthetic registry has bad rows: {:?}",
        report.bad
    );
    let child = registry::import(
        demo_child_row().as_bytes(),
        Format::Csv,
        &*state.store,
        &state.index,
        state.clock.now(),
        |_| {},
    )
    .await
    .context("importing the demo child")?;
    anyhow::ensure!(child.bad.is_empty(), "demo child row: {:?}", child.bad);

    let now = state.clock.now();
    let channel_key = new_credential("ybc")?;
    let channel = Channel {
        id: "demo-app".into(),
        name: "演示渠道 demo channel".into(),
        regions: vec![],
        key_hash: channel_key.hash,
        created_at: now,
        disabled: false,
    };
    state.store.put_channel(&channel).await?;
    let institution = Institution {
        code: "P11010500001".into(),
        name: "演示大药房 demo pharmacy".into(),
        kind: InstitutionKind::Pharmacy,
        region: RegionCode::parse("110105").context("region")?,
        accepts_voucher: true,
    };
    state
        .store
        .put_institutions(std::slice::from_ref(&institution))
        .await?;
    let terminal_key = new_credential("ybt")?;
    state
        .store
        .put_terminal(&Terminal {
            id: "pos-1".into(),
            institution: institution.code.clone(),
            key_hash: terminal_key.hash,
            created_at: now,
            revoked: false,
        })
        .await?;

    let mut holders = Vec::new();
    for i in 0..3 {
        let (person, _, _) = synthetic_person(i);
        let attestation = Attestation {
            real_name: true,
            real_person: true,
            method: "demo".into(),
            reference: None,
        };
        let activation = activation::activate(
            state,
            &channel,
            &person.name,
            &person.id_number,
            &attestation,
        )
        .await
        .map_err(|e| anyhow::anyhow!("activating demo holder {i}: {e}"))?;
        holders.push(DemoHolder {
            masked_name: activation.masked_name,
            voucher_id: activation.voucher_id.to_string(),
            holder_credential: activation.holder_credential,
        });
    }
    let keys = KeyDir::new(&state.keys_dir);
    let info = DemoInfo {
        base_url: base_url.to_owned(),
        channel_key: channel_key.secret.to_string(),
        holders,
        terminal: DemoTerminal {
            institution: institution.code,
            id: "pos-1".into(),
            credential: terminal_key.secret.to_string(),
        },
        admin_token_file: data_dir.join("admin.token"),
        bundle_path: keys.bundle_path(),
        root_key_path: keys.root_public_path(),
    };
    write_private(&info_path, &serde_json::to_string_pretty(&info)?)?;
    Ok(info)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The guide printed at start.
pub fn guide(info: &DemoInfo, data_dir: &Path) -> String {
    let h = &info.holders[0];
    let url = &info.base_url;
    format!(
        "\nyibao demo: 1,000 synthetic insured people, channel `demo-app`, pharmacy {inst} with terminal {term}\n\
         holders (credentials in {json}):\n{holders}\n\
         the phone app page: {url}/app  (paste a holder credential from {json})\n\
         try:\n  \
         curl -s -H 'Authorization: Bearer {cred}' {url}/v1/token\n  \
         curl -s -H 'Authorization: Bearer {cred}' {url}/v1/token.svg -o code.svg\n  \
         curl -s {url}/v1/trust-bundle -o bundle.json\n  \
         CODE=$(curl -s -H 'Authorization: Bearer {cred}' {url}/v1/token | sed 's/.*\"code\":\"\\([0-9]*\\)\".*/\\1/')\n  \
         cargo run -q -p yibao-verifier -- check --bundle bundle.json --root-key {root} $CODE\n\
         the pharmacy terminal (offline check, durable outbox, settlement):\n  \
         export YIBAO_TERMINAL=data/demo-terminal; alias yv='cargo run -q -p yibao-verifier --'\n  \
         YIBAO_TERMINAL_CREDENTIAL={term_cred} yv init --issuer {url} --institution {inst} --root-key {root}\n  \
         yv sync && yv check $CODE && yv status && yv flush\n  \
         yv serve   # the cashier page on http://127.0.0.1:8090/\n  \
         a family account: the first holder is the registered guardian of {child} (ID {child_id}):\n  \
         add her on that holder's app page (亲情账户 → 添加家人): bound at once, her voucher\n  \
         activated by proxy; anyone else's request waits for the guardian's approval\n\
         operate it (channels, institutions, terminals, vouchers, keys):\n  \
         alias ya='cargo run -q -p yibao-issuer -- admin --url {url} --data-dir {data}'\n  \
         ya status && ya channel list && ya terminal list {inst} && ya voucher show {voucher}\n\
         API: {url}/openapi.json   metrics: {url}/metrics\n",
        child = demo_child().name,
        child_id = demo_child().id_number,
        inst = info.terminal.institution,
        term = info.terminal.id,
        term_cred = info.terminal.credential,
        json = data_dir.join("demo.json").display(),
        holders = info
            .holders
            .iter()
            .map(|h| format!("  {}  voucher {}", h.masked_name, h.voucher_id))
            .collect::<Vec<_>>()
            .join("\n"),
        cred = h.holder_credential,
        root = info.root_key_path.display(),
        data = data_dir.display(),
        voucher = h.voucher_id,
    )
}
