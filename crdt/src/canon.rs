//! Canonical bytes: the one encoding that signatures and hashes are computed over.
//!
//! JSON is what people read, but JSON has many spellings of one value (key order, spacing,
//! escapes), so nothing is ever signed as JSON. Every signed structure writes itself into a
//! [`CanonWriter`]: fixed-width big-endian integers, length-prefixed byte strings, a
//! presence byte before optional values and a count before lists. The encoding is
//! injective for a given type, which is all a signature needs.

/// Accumulates the canonical bytes of a value.
#[derive(Debug, Default)]
pub struct CanonWriter {
    buf: Vec<u8>,
}

impl CanonWriter {
    /// Starts a buffer with a domain-separation tag, so that bytes signed for one purpose
    /// can never be replayed as a signature for another.
    pub fn with_domain(domain: &str) -> Self {
        let mut w = CanonWriter::default();
        w.str(domain);
        w
    }

    /// Writes one byte (used for enum discriminants and flags).
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Writes a `u32` in big-endian order.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Writes a `u64` in big-endian order.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Writes a length-prefixed byte string.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
        self
    }

    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// Writes a presence byte, then the value if there is one.
    pub fn opt<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) -> &mut Self {
        match v {
            None => {
                self.u8(0);
            }
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
        self
    }

    /// Writes an element count, then each element.
    pub fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.u64(items.len() as u64);
        for item in items {
            f(self, item);
        }
        self
    }

    /// The bytes written so far.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefix_separates_adjacent_strings() {
        let mut a = CanonWriter::default();
        a.str("ab").str("c");
        let mut b = CanonWriter::default();
        b.str("a").str("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn absent_and_empty_differ() {
        let mut a = CanonWriter::default();
        a.opt(None::<&String>, |w, s| {
            w.str(s);
        });
        let mut b = CanonWriter::default();
        b.opt(Some(&String::new()), |w, s| {
            w.str(s);
        });
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn domains_separate() {
        let a = CanonWriter::with_domain("one").finish();
        let b = CanonWriter::with_domain("two").finish();
        assert_ne!(a, b);
    }
}
