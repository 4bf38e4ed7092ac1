//! Rules for the names people choose: room unique names and participant identities.

use crate::error::Error;

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 128;
/// Longest identity, in Twilio's counting (double-byte characters count twice).
pub const MAX_IDENTITY_WEIGHT: usize = 128;

/// Checks a room's unique name.
///
/// `/` is refused because a name is also a path segment (`/v1/Rooms/{name}`), and control characters
/// because they cannot be typed or shown.
///
/// # Errors
/// `RoomNameInvalid` (empty), `RoomNameTooLong`, `RoomNameInvalidChars`.
pub fn validate_room_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::RoomNameInvalid);
    }
    if name.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(Error::RoomNameTooLong);
    }
    if name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::RoomNameInvalidChars);
    }
    Ok(())
}

/// Checks a participant identity. Twilio counts a character outside ASCII as two.
///
/// # Errors
/// `IdentityInvalid` (empty), `IdentityTooLong`, `IdentityInvalidChars`.
pub fn validate_identity(identity: &str) -> Result<(), Error> {
    if identity.is_empty() {
        return Err(Error::IdentityInvalid);
    }
    let weight: usize = identity
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    if weight > MAX_IDENTITY_WEIGHT {
        return Err(Error::IdentityTooLong);
    }
    if identity.chars().any(char::is_control) {
        return Err(Error::IdentityInvalidChars);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_rules() {
        assert!(validate_identity("alice").is_ok());
        assert_eq!(validate_identity(""), Err(Error::IdentityInvalid));
        assert!(validate_identity(&"a".repeat(128)).is_ok());
        assert_eq!(
            validate_identity(&"a".repeat(129)),
            Err(Error::IdentityTooLong)
        );
        assert!(validate_identity(&"é".repeat(64)).is_ok());
        assert_eq!(
            validate_identity(&"é".repeat(65)),
            Err(Error::IdentityTooLong)
        );
        assert_eq!(
            validate_identity("a\u{0}b"),
            Err(Error::IdentityInvalidChars)
        );
    }

    #[test]
    fn room_name_rules() {
        assert!(validate_room_name("Daily Standup").is_ok());
        assert_eq!(validate_room_name(""), Err(Error::RoomNameInvalid));
        assert_eq!(
            validate_room_name(&"x".repeat(129)),
            Err(Error::RoomNameTooLong)
        );
        assert_eq!(validate_room_name("a/b"), Err(Error::RoomNameInvalidChars));
    }
}
