use super::SigningAlg;

/// Why a key could not be generated, imported, exported or used to sign.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("RSA keys must have at least {min} bits, this one has {bits}")]
    KeyTooSmall { bits: u32, min: u32 },
    #[error("the key is not usable with {alg:?}: {reason}")]
    WrongKeyType { alg: SigningAlg, reason: String },
    #[error("not a private key PEM (PKCS#8 or traditional), or an encrypted one")]
    InvalidPem(#[source] openssl::error::ErrorStack),
    #[error("unusable JWK: {0}")]
    InvalidJwk(String),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// Why a compact JWS could not be decoded (without verification).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("a compact JWS has three base64url parts separated by dots")]
    NotCompact,
    #[error("the {0} is not valid base64url")]
    Base64(&'static str),
    #[error("the {part} is not a JSON object: {source}")]
    Json {
        part: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Why a SET was rejected by [`verify`](super::verify). Each check has its own variant so
/// callers (and tests) can tell which one failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    #[error("unsecured JWS (`alg: none`) is never accepted")]
    AlgNone,
    #[error("algorithm `{0}` is not supported")]
    UnsupportedAlgorithm(String),
    #[error("critical header parameters {0:?} are not understood")]
    UnsupportedCritical(Vec<String>),
    #[error("`typ` must be `secevent+jwt`, found {0:?}")]
    WrongType(Option<String>),
    #[error("the header has no `kid`")]
    MissingKid,
    #[error("no key with kid `{0}` in the JWKS")]
    UnknownKid(String),
    #[error("the header says {header:?} but key `{kid}` is for {key}")]
    AlgorithmMismatch {
        header: SigningAlg,
        kid: String,
        key: String,
    },
    #[error("key `{kid}` is unusable: {reason}")]
    UnusableKey { kid: String, reason: String },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("`iss` is {found:?}, expected `{expected}`")]
    WrongIssuer {
        expected: String,
        found: Option<String>,
    },
    #[error("`aud` does not contain `{expected}`")]
    WrongAudience { expected: String },
    #[error("claim `{0}` must not appear in an SSF SET")]
    ForbiddenClaim(&'static str),
}

/// Why a sealed private key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("SSF_KEY_ENCRYPTION_KEY must be 32 bytes in standard base64")]
    InvalidKey,
    #[error("not a sealed secret of a known format")]
    Malformed,
    #[error(
        "sealed with at-rest key `{0}`, which is not configured (set it as \
         SSF_KEY_ENCRYPTION_KEY or list it in SSF_KEY_ENCRYPTION_KEY_PREVIOUS)"
    )]
    UnknownKeyId(String),
    #[error("decryption failed: the at-rest key is wrong or the sealed data was altered")]
    Decrypt,
    #[error("the stored secret is sealed but no at-rest key is configured")]
    NoKeyConfigured,
    #[error("the unsealed secret is not UTF-8")]
    NotUtf8,
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// Why a key set could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("key `{0}` is already in the key set")]
    DuplicateKid(String),
}
