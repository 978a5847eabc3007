//! Records the conformance cases write.

use super::*;

pub(crate) fn index() -> IndexKey {
    IndexKey::new(vec![9; 32]).expect("32 bytes")
}

pub(crate) fn person(n: u16, status: InsuredStatus) -> Person {
    let birth = BirthDate {
        year: 1950,
        month: 3,
        day: 1,
    };
    let id = IdNumber::parse(&synthetic(1, birth, n)).expect("valid");
    Person {
        id_key: index().id_key(&id),
        person_no: format!("P{n:06}"),
        name_key: index().name_key(&format!("测试{n}")),
        masked_name: MaskedName::mask("测试甲").expect("mask"),
        gender: Gender::Female,
        birth_date: birth,
        region: RegionCode::parse("110105").expect("region"),
        insurance: InsuranceType::Resident,
        status,
        guardians: vec![],
        identity: None,
    }
}

pub(crate) fn voucher(p: &Person, byte: u8) -> Voucher {
    Voucher {
        voucher_id: VoucherId([byte; 8]),
        id_key: p.id_key,
        status: VoucherStatus::Active,
        activated_at: NOW,
        activated_by: "wechat".into(),
    }
}

pub(crate) fn credential(secret: &str) -> HolderCredential {
    HolderCredential {
        hash: hash_credential(secret),
        voucher_id: VoucherId([0; 8]),
        id_key: person(1, InsuredStatus::Insured).id_key,
        channel: "wechat".into(),
        issued_at: NOW,
        revoked: false,
    }
}

pub(crate) fn institution(code: &str) -> Institution {
    Institution {
        code: code.into(),
        name: "测试医院".into(),
        kind: InstitutionKind::Hospital,
        region: RegionCode::parse("110105").expect("region"),
        accepts_voucher: true,
    }
}
