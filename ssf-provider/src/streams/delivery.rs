//! Delivery method URIs: RFC 8935 push and RFC 8936 poll, and the legacy RISC URIs some
//! receivers (Apple Business Manager among them) still send for the same two methods.

use ssf_entities::DeliveryMethod;

pub const PUSH_URI: &str = "urn:ietf:rfc:8935";
pub const POLL_URI: &str = "urn:ietf:rfc:8936";
pub const RISC_PUSH_URI: &str = "https://schemas.openid.net/secevent/risc/delivery-method/push";
pub const RISC_POLL_URI: &str = "https://schemas.openid.net/secevent/risc/delivery-method/poll";

/// A delivery method URI this transmitter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMethodUri {
    Push,
    Poll,
    /// RISC's name for push; such receivers also expect the subject inside the event.
    RiscPush,
    /// RISC's name for poll.
    RiscPoll,
}

impl DeliveryMethodUri {
    pub fn parse(uri: &str) -> Option<Self> {
        match uri {
            PUSH_URI => Some(Self::Push),
            POLL_URI => Some(Self::Poll),
            RISC_PUSH_URI => Some(Self::RiscPush),
            RISC_POLL_URI => Some(Self::RiscPoll),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Push => PUSH_URI,
            Self::Poll => POLL_URI,
            Self::RiscPush => RISC_PUSH_URI,
            Self::RiscPoll => RISC_POLL_URI,
        }
    }

    pub fn method(self) -> DeliveryMethod {
        match self {
            Self::Push | Self::RiscPush => DeliveryMethod::Push,
            Self::Poll | Self::RiscPoll => DeliveryMethod::Poll,
        }
    }

    /// The receiver speaks the pre-SSF RISC dialect.
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::RiscPush | Self::RiscPoll)
    }
}

/// The methods advertised in discovery (`delivery_methods_supported`): the standard URIs only.
pub const ADVERTISED: &[&str] = &[PUSH_URI, POLL_URI];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_to_the_standard_methods() {
        assert_eq!(
            DeliveryMethodUri::parse(RISC_PUSH_URI).unwrap().method(),
            DeliveryMethod::Push
        );
        assert_eq!(
            DeliveryMethodUri::parse(RISC_POLL_URI).unwrap().method(),
            DeliveryMethod::Poll
        );
        assert!(DeliveryMethodUri::parse(RISC_PUSH_URI).unwrap().is_legacy());
        assert!(!DeliveryMethodUri::parse(PUSH_URI).unwrap().is_legacy());
        assert_eq!(DeliveryMethodUri::parse("urn:ietf:rfc:8935 "), None);
        for m in [
            DeliveryMethodUri::Push,
            DeliveryMethodUri::Poll,
            DeliveryMethodUri::RiscPush,
            DeliveryMethodUri::RiscPoll,
        ] {
            assert_eq!(DeliveryMethodUri::parse(m.uri()), Some(m));
        }
    }
}
