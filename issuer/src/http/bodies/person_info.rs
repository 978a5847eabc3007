//! The bodies of person information (national 1101 人员信息获取, field names and codes as the
//! national interface has them) and of the holder's list of identity reads.

use serde::{Deserialize, Serialize};
use yibao_shared::{Gender, InsuranceType, Relation, UnixTime, VoucherId};

use crate::domain::family::shares::Payer;
use crate::domain::family::today;
use crate::domain::settlement::person_info::{PersonInfo, ReadSeen};
use crate::model::InsuredStatus;

/// The 1101 input (`input.data`). Only the electronic voucher is served: `mdtrt_cert_type`
/// `01` with the settlement reference (the `ecToken`) as `mdtrt_cert_no`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInfoRequest {
    /// 就诊凭证类型: `01` (医保电子凭证).
    #[schema(pattern = "^01$")]
    pub mdtrt_cert_type: String,
    /// 就诊凭证编号: the settlement reference of the scan.
    pub mdtrt_cert_no: String,
    /// 卡识别码 (cards only): ignored, accepted because national clients send it empty.
    #[serde(default)]
    pub card_sn: Option<String>,
    /// 开始时间: ignored.
    #[serde(default)]
    pub begntime: Option<String>,
    /// 人员证件类型 (other certificate types only): ignored.
    #[serde(default)]
    pub psn_cert_type: Option<String>,
    /// 证件号码 (other certificate types only): ignored, never stored or logged.
    #[serde(default)]
    pub certno: Option<String>,
    /// 人员姓名 (other certificate types only): ignored, never stored or logged.
    #[serde(default)]
    pub psn_name: Option<String>,
}

impl std::fmt::Debug for PersonInfoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `certno` and `psn_name` may carry a real identity: never printed.
        f.debug_struct("PersonInfoRequest")
            .field("mdtrt_cert_type", &self.mdtrt_cert_type)
            .field("mdtrt_cert_no", &self.mdtrt_cert_no)
            .finish_non_exhaustive()
    }
}

/// The 1101 output.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonInfoResponse {
    /// 基本信息.
    pub baseinfo: BaseInfo,
    /// 参保信息 (one entry: the scheme the voucher belongs to).
    pub insuinfo: Vec<InsuInfo>,
    /// 个人账户家庭共济: accounts that may pay for this visit (`acct_mulaid_pay` in 2207).
    pub mulaid_payers: Vec<MutualAidPayer>,
}

impl std::fmt::Debug for PersonInfoResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonInfoResponse(<redacted>)")
    }
}

// Never printed (no `Debug` beyond a placeholder): it is the identity.
/// 基本信息.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BaseInfo {
    /// 人员编号.
    pub psn_no: String,
    /// 人员证件类型: `01` 居民身份证.
    pub psn_cert_type: &'static str,
    /// 证件号码.
    pub certno: String,
    /// 人员姓名.
    pub psn_name: String,
    /// 性别: `1` 男, `2` 女, `9` 未说明.
    pub gend: &'static str,
    /// 民族 (two digits), when the registry has it.
    pub naty: Option<String>,
    /// 出生日期 `YYYY-MM-DD`.
    pub brdy: String,
    /// 年龄 (completed years, China Standard Time).
    pub age: u16,
}

impl std::fmt::Debug for BaseInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaseInfo(<redacted>)")
    }
}

/// 参保信息.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InsuInfo {
    /// 险种类型: `310` 职工基本医疗保险, `390` 城乡居民基本医疗保险.
    pub insutype: &'static str,
    /// 人员类别, when the registry has it.
    pub psn_type: Option<String>,
    /// 人员参保状态: `1` 正常参保, `2` 暂停参保, `4` 终止参保.
    pub psn_insu_stas: &'static str,
    /// 个人参保日期.
    pub psn_insu_date: Option<String>,
    /// 暂停参保日期.
    pub paus_insu_date: Option<String>,
    /// 公务员标志: `1` 是, `0` 否.
    pub cvlserv_flag: &'static str,
    /// 参保地医保区划.
    pub insuplc_admdvs: String,
    /// 单位名称.
    pub emp_name: Option<String>,
    /// 余额: not kept by the voucher platform (the account's fund system answers it).
    pub balc: Option<f64>,
}

/// An account that may pay for the member's visit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MutualAidPayer {
    /// The payer's voucher (what completion names as `mutual_aid_payer`).
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// Their masked name.
    pub masked_name: String,
    /// How the member relates to the payer.
    #[schema(value_type = crate::model::names::RelationName, example = "child")]
    pub relation: Relation,
}

impl From<Payer> for MutualAidPayer {
    fn from(p: Payer) -> Self {
        Self {
            voucher_id: p.voucher,
            masked_name: p.masked_name,
            relation: p.relation,
        }
    }
}

fn some(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

impl PersonInfoResponse {
    /// The answer for a read made at `now`.
    pub fn new(info: PersonInfo, now: UnixTime) -> Self {
        let (person, details) = (&info.person, &info.details);
        let baseinfo = BaseInfo {
            psn_no: person.person_no.clone(),
            psn_cert_type: "01",
            certno: details.id_number.clone(),
            psn_name: details.name.clone(),
            gend: match person.gender {
                Gender::Male => "1",
                Gender::Female => "2",
                Gender::Unknown => "9",
            },
            naty: some(&details.ethnicity),
            brdy: person.birth_date.to_string(),
            age: person.birth_date.age_on(today(now)),
        };
        let insuinfo = InsuInfo {
            insutype: match person.insurance {
                InsuranceType::Employee => "310",
                InsuranceType::Resident => "390",
            },
            psn_type: some(&details.person_type),
            psn_insu_stas: match person.status {
                InsuredStatus::Insured => "1",
                InsuredStatus::Suspended => "2",
                InsuredStatus::Terminated => "4",
            },
            psn_insu_date: some(&details.insured_since),
            paus_insu_date: some(&details.paused_since),
            cvlserv_flag: if details.civil_servant { "1" } else { "0" },
            insuplc_admdvs: person.region.to_string(),
            emp_name: some(&details.employer),
            balc: None,
        };
        Self {
            baseinfo,
            insuinfo: vec![insuinfo],
            mulaid_payers: info.payers.into_iter().map(Into::into).collect(),
        }
    }
}

/// Whose identity reads to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IdentityReadQuery {
    /// A family member's voucher (default: the caller's own).
    #[param(pattern = "^[0-9a-f]{16}$")]
    pub voucher: Option<String>,
}

/// One read of the holder's identity by a settling institution.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdentityReadItem {
    /// When (unix seconds).
    #[schema(value_type = u64)]
    pub at: UnixTime,
    /// The institution code.
    pub institution: String,
    /// Its name, while it is registered.
    pub institution_name: Option<String>,
    /// The visit's settlement reference.
    pub reference: String,
    /// The visit's date (China Standard Time), `YYYY-MM-DD`.
    pub visit_date: String,
}

/// Who read a holder's identity (谁查看了我的身份信息), newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdentityReads {
    /// Whose.
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// Reads, newest first.
    pub reads: Vec<IdentityReadItem>,
}

impl From<ReadSeen> for IdentityReadItem {
    fn from(r: ReadSeen) -> Self {
        Self {
            at: r.at,
            institution: r.institution,
            institution_name: r.institution_name,
            reference: r.reference,
            visit_date: today(r.visit_at).to_string(),
        }
    }
}
