//! `RecordingSettings/Default` and `CompositionSettings/Default`: an account's choice of external
//! storage and encryption for its recordings and compositions. vroom stores and returns them as
//! Twilio does; it keeps media in its own media store whatever they say (no S3-compatible store
//! or encryption exists yet).

use crate::sid::AccountSid;

/// Which settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsKind {
    /// `RecordingSettings/Default`.
    Recording,
    /// `CompositionSettings/Default`.
    Composition,
}

impl SettingsKind {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Composition => "composition",
        }
    }

    /// Parses the stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Recording, Self::Composition]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One account's settings of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// Which settings.
    pub kind: SettingsKind,
    /// Owner.
    pub account_sid: AccountSid,
    /// A name for people.
    pub friendly_name: String,
    /// `CR…` of the AWS credentials (accepted, not used).
    pub aws_credentials_sid: Option<String>,
    /// The S3 bucket URL (accepted, not used).
    pub aws_s3_url: Option<String>,
    /// Whether media would go to S3 (accepted, not used).
    pub aws_storage_enabled: bool,
    /// `CR…` of the public key (accepted, not used).
    pub encryption_key_sid: Option<String>,
    /// Whether media would be encrypted (accepted, not used).
    pub encryption_enabled: bool,
}

impl MediaSettings {
    /// What an account that never set them reads: no name, nothing enabled.
    #[must_use]
    pub fn unset(kind: SettingsKind, account_sid: AccountSid) -> Self {
        Self {
            kind,
            account_sid,
            friendly_name: String::new(),
            aws_credentials_sid: None,
            aws_s3_url: None,
            aws_storage_enabled: false,
            encryption_key_sid: None,
            encryption_enabled: false,
        }
    }
}
