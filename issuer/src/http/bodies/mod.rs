//! Request and response bodies, as the OpenAPI document describes them, apart from the
//! domain values they carry: a body may change its shape for the wire without the domain
//! knowing, and the domain never sees a schema.

pub mod activation;
pub mod admin;
pub mod admin_records;
pub mod completion;
pub mod devices;
pub mod family;
pub mod ops;
pub mod person_info;
pub mod settlement;
