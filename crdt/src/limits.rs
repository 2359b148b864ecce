//! Every size and count limit of the data model, named in one place.
//!
//! Limits protect every node from a record or a change that would cost too much to store,
//! verify or replicate. They are checked when a record or a change envelope is verified,
//! so anything over a limit is refused everywhere alike.

/// Longest platform, federation or catalog display name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest operator text on an identity card, in bytes.
pub const MAX_OPERATOR_BYTES: usize = 256;
/// Most addresses an identity card may list.
pub const MAX_CARD_ADDRESSES: usize = 16;
/// Longest single address on an identity card, in bytes.
pub const MAX_ADDRESS_BYTES: usize = 256;
/// Most administrators a federation may have.
pub const MAX_ADMINS: usize = 32;
/// Longest catalog id (`[a-z0-9._-]`), in bytes.
pub const MAX_CATALOG_ID_BYTES: usize = 64;
/// Longest catalog URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Most catalog entries of each kind in one record.
pub const MAX_CATALOG_ENTRIES_PER_RECORD: usize = 1024;
/// Most documents a revocation frontier may list.
pub const MAX_FRONTIER_DOCUMENTS: usize = 100_000;
/// Most change hashes listed for one document of a revocation frontier.
pub const MAX_FRONTIER_HEADS: usize = 16;
/// Longest free-text reason on a revocation, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// Largest canonical encoding of one record, in bytes.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// Largest chain file that will be parsed, in bytes.
pub const MAX_CHAIN_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Largest payload of a change envelope (the encoded Automerge change), in bytes. Checked
/// before anything is decoded.
pub const MAX_CHANGE_BYTES: usize = 64 * 1024;
/// Most dependencies a change envelope may list.
pub const MAX_CHANGE_DEPS: usize = 64;
/// Most envelopes one author may have waiting in one document's buffer; beyond that the
/// oldest are dropped (anti-entropy fetches them again).
pub const MAX_PENDING_PER_AUTHOR: usize = 1024;
/// Longest description in a platform's registry profile, in bytes.
pub const MAX_PROFILE_DESCRIPTION_BYTES: usize = 1024;
/// Longest contact in a platform's registry profile, in bytes.
pub const MAX_PROFILE_CONTACT_BYTES: usize = 256;
/// Most addresses in a platform's registry profile.
pub const MAX_PROFILE_ADDRESSES: usize = 16;
/// Longest single address in a platform's registry profile, in bytes.
pub const MAX_PROFILE_ADDRESS_BYTES: usize = 256;
/// Longest project code (`[A-Za-z0-9._-]`), in bytes.
pub const MAX_PROJECT_CODE_BYTES: usize = 64;
/// Longest project description, in bytes.
pub const MAX_PROJECT_DESCRIPTION_BYTES: usize = 4096;
/// Most members (people) a project may list.
pub const MAX_PROJECT_MEMBERS: usize = 256;
/// Longest e-mail address of a project member, in bytes.
pub const MAX_PROJECT_EMAIL_BYTES: usize = 256;
/// Most catalog references (regulatory frameworks, or entities) a project may list.
pub const MAX_PROJECT_REFERENCES: usize = 256;
/// Longest title of an export request, in bytes (one line, not empty).
pub const MAX_EXPORT_TITLE_BYTES: usize = 256;
/// Longest free text of an export request (dataset, population, purpose, legal basis) or
/// of a history entry (comment, conditions), in bytes; line breaks and tabs allowed.
pub const MAX_EXPORT_TEXT_BYTES: usize = 4096;
/// Most variables an export request may list.
pub const MAX_EXPORT_VARIABLES: usize = 256;
/// Longest variable name of an export request, in bytes.
pub const MAX_EXPORT_VARIABLE_BYTES: usize = 128;
/// Longest delivery reference of a delivery (a path, a URL or a ticket), in bytes.
pub const MAX_EXPORT_REFERENCE_BYTES: usize = 1024;
/// Most entries of an export request's history: the workflow has no loop but
/// submitted ↔ information_requested, so a longer history is an abuse, not a request.
pub const MAX_EXPORT_HISTORY: usize = 256;
/// Most recipient platforms one key grant may wrap an epoch key for: enough for every
/// platform of a large federation, while a grant stays cheap to check (one signature,
/// one lookup per recipient) and small to replicate (about 150 bytes per recipient).
pub const MAX_GRANT_RECIPIENTS: usize = 1024;
/// How many bytes sealing adds to a payload: the magic (4), the epoch (4), the nonce (24)
/// and the authentication tag (16). A sealed payload must fit in
/// [`MAX_CHANGE_BYTES`], so the plaintext change of a private document may be at most
/// `MAX_CHANGE_BYTES - MAX_SEALED_OVERHEAD` bytes: a node compares a plaintext against
/// that, before sealing it.
pub const MAX_SEALED_OVERHEAD: usize = 4 + 4 + 24 + 16;
