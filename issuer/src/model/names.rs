//! The names the API gives to values kept as enums or codes elsewhere (a family relation, a
//! national business type), for the OpenAPI document: each is the schema of a field whose
//! Rust type serialises to one of these strings.

/// How a family member relates to the binder (the member is the binder's …).
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum RelationName {
    /// 配偶.
    Spouse,
    /// 父母: the member is the binder's parent.
    Parent,
    /// 子女.
    Child,
    /// 其他近亲属.
    OtherClose,
}

/// A national business-type code (业务类型), as in `yibao_shared::BusinessType`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub enum BusinessTypeCode {
    /// 挂号.
    #[schema(rename = "01101")]
    Registration,
    /// 住院建档.
    #[schema(rename = "01102")]
    InpatientFile,
    /// 入院登记.
    #[schema(rename = "01103")]
    Admission,
    /// 缴纳预交金.
    #[schema(rename = "01104")]
    Deposit,
    /// 问诊.
    #[schema(rename = "01201")]
    Consultation,
    /// 预约检查.
    #[schema(rename = "01202")]
    ExaminationBooking,
    /// 检查.
    #[schema(rename = "01203")]
    Examination,
    /// 治疗.
    #[schema(rename = "01204")]
    Treatment,
    /// 结算.
    #[schema(rename = "01301")]
    Settlement,
    /// 取药.
    #[schema(rename = "01302")]
    MedicinePickup,
    /// 取报告.
    #[schema(rename = "01303")]
    ReportPickup,
    /// 打印票据和清单.
    #[schema(rename = "01304")]
    ReceiptPrinting,
    /// 病历材料复印.
    #[schema(rename = "01305")]
    RecordCopying,
    /// 药店购药.
    #[schema(rename = "02121")]
    PharmacyPurchase,
    /// 下载外购处方.
    #[schema(rename = "02122")]
    PrescriptionDownload,
}

/// What a hospital system said about the counter (`yibao_shared::VisitContext`): each field
/// present only when it was given.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VisitContextFields {
    /// The operator's name (`operatorName`), 1-64 characters.
    operator_name: Option<String>,
    /// The office (科室) code (`officeId`), 1-32 characters.
    office_id: Option<String>,
    /// The office's name (`officeName`), 1-64 characters.
    office_name: Option<String>,
    /// The reading device's type (`deviceType`), 1-16 characters.
    device_type: Option<String>,
}
