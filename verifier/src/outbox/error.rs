//! Why the outbox could not do what was asked, each with a stable code for the C ABI, the
//! cashier page and scripts.

use std::path::PathBuf;

const RECOVER: &str = "copy every readable visit into a new outbox with `yibao-verify salvage` \
    (the damaged file is kept aside), or restore it from a backup";

const MISSING: &str = "restore it from a backup, or start an empty one knowingly with \
    `yibao-verify init --reset-outbox` (visits still queued in the old file are then not \
    forwarded from this terminal, and its replay memory is lost)";

/// Why the outbox could not do what was asked. Never a verdict on a code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// Another process has the outbox open.
    #[error("outbox {0} is in use by another process (a running `yibao-verify serve`?)")]
    Busy(PathBuf),
    /// This process has the outbox open already (through another handle or terminal): share
    /// that one.
    #[error("outbox {0} is already open in this process: use the terminal opened first")]
    OpenInThisProcess(PathBuf),
    /// There is no outbox file where `init` made one.
    #[error("outbox {0} is missing: {MISSING}")]
    Missing(PathBuf),
    /// The outbox file is there but empty (0 bytes): whatever it held is gone.
    #[error("outbox {0} is empty (0 bytes): {MISSING}")]
    Empty(PathBuf),
    /// The file is damaged beyond what redb can read or write: no code is accepted into it
    /// (nothing could forward the visit), and salvage copies what can be read.
    #[error("outbox {path} is damaged ({detail}): {RECOVER}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// `init` found an outbox already there (it is kept; see `--reset-outbox`).
    #[error("outbox {0} already exists")]
    Exists(PathBuf),
    /// There is too little free space to record a visit durably.
    #[error(
        "only {free_bytes} bytes free beside the outbox: new visits cannot be recorded durably \
         (forward the queue with `yibao-verify flush`, and free disk space)"
    )]
    DiskFull {
        /// Bytes available.
        free_bytes: u64,
    },
    /// A write failed (disk full, I/O) and the file is being reopened; until that succeeds
    /// nothing is recorded. Retrying is safe.
    #[error("outbox storage failed ({cause}); it is reopened at the next call")]
    Recovering {
        /// The first failure.
        cause: String,
    },
    /// The file could not be read or written (disk full, permissions, I/O): the first cause
    /// is kept, not redb's later "previous I/O error".
    #[error("outbox storage: {0}")]
    Storage(String),
    /// A stored record could not be decoded.
    #[error("outbox record unreadable: {0}")]
    Corrupt(String),
}

impl OutboxError {
    /// A stable kebab-case code for this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Busy(_) => "outbox-busy",
            Self::OpenInThisProcess(_) => "outbox-open-in-this-process",
            Self::Missing(_) => "outbox-missing",
            Self::Empty(_) => "outbox-empty",
            Self::Damaged { .. } => "outbox-damaged",
            Self::Exists(_) => "outbox-exists",
            Self::DiskFull { .. } => "disk-full",
            Self::Recovering { .. } => "outbox-recovering",
            Self::Storage(_) => "outbox-storage",
            Self::Corrupt(_) => "outbox-record-unreadable",
        }
    }

    /// What the cashier reads, in Chinese: what to do.
    pub fn advice_zh(&self) -> &'static str {
        match self {
            Self::Busy(_) | Self::OpenInThisProcess(_) => "终端数据正被其他程序使用，请关闭后重试",
            Self::Missing(_) | Self::Empty(_) => "终端数据文件丢失，请联系管理员恢复",
            Self::Damaged { .. } => "终端数据文件损坏，请联系管理员执行数据抢救（salvage）",
            Self::Exists(_) => "终端数据已存在",
            Self::DiskFull { .. } => "磁盘空间不足，请上传待结算记录并清理磁盘",
            Self::Recovering { .. } | Self::Storage(_) | Self::Corrupt(_) => {
                "终端数据写入失败，请稍后重试"
            }
        }
    }
}
