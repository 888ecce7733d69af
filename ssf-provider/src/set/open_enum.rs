//! Enumerations whose specs list well-known string values but also allow values agreed
//! between transmitter and receiver out of band.

/// Declares an enum of well-known string values plus an `Other(String)` variant.
///
/// Equality, hashing and ordering go through [`as_str`](#method.as_str), so
/// `Other("password".into())` equals the well-known variant it spells: whichever way a
/// value was built, the token carries the same string and compares the same.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value agreed between transmitter and receiver out of band.
            Other(String),
        }

        impl $name {
            /// The well-known values, in the order the spec lists them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The string carried in the token.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Other(value) => value,
                }
            }

            /// Whether this is one of the values the spec lists.
            pub fn is_known(&self) -> bool {
                Self::KNOWN.iter().any(|known| known.as_str() == self.as_str())
            }

            #[allow(dead_code)]
            fn rank(&self) -> usize {
                Self::KNOWN
                    .iter()
                    .position(|known| known.as_str() == self.as_str())
                    .unwrap_or(Self::KNOWN.len())
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $value => $name::$variant, )+
                    _ => $name::Other(value),
                }
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                // An empty string names nothing; accepting it would let `Other("")` through.
                if value.is_empty() {
                    return Err(serde::de::Error::invalid_value(
                        serde::de::Unexpected::Str(""),
                        &concat!("a non-empty ", stringify!($name)),
                    ));
                }
                Ok($name::from(value))
            }
        }
    };
}

pub(crate) use open_enum;
