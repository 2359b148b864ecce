//! A document read as it was at given heads.
//!
//! The rules read the document a change makes. For a change made on the document's
//! heads that is the document with the change applied, as it now is; for a change made
//! on an older state (concurrently with others), it is the state at the change's own
//! hash, which the document holds once the change is applied to it. Reading that state
//! through Automerge's `*_at` calls costs no more than reading the present, while
//! building it as a document of its own (`fork_at`) replays the whole history.
//!
//! [`AsOf`] is a [`ReadDoc`] whose every present-tense read is made at its heads, so that
//! the rules' readers, written against [`ReadDoc`], read either without a change.

use std::ops::RangeBounds;

use automerge::iter::{DocIter, Keys, ListRange, MapRange, Spans, Values};
use automerge::marks::{Mark, MarkSet};
use automerge::{
    hydrate, Automerge, AutomergeError, Change, ChangeHash, Cursor, CursorPosition, MoveCursor,
    ObjId, ObjType, Parents, Prop, ReadDoc, Stats, TextEncoding, Value,
};

/// `doc` as it was at `heads`, or as it is (`None`).
///
/// `doc` is any reader: a document, or a transaction not yet committed, whose reads see
/// its own operations.
pub(crate) struct AsOf<'a, D: ReadDoc = Automerge> {
    doc: &'a D,
    heads: Option<&'a [ChangeHash]>,
}

impl<D: ReadDoc> Clone for AsOf<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: ReadDoc> Copy for AsOf<'_, D> {}

impl<'a, D: ReadDoc> AsOf<'a, D> {
    /// `doc` as it was at `heads` (`None`: as it is).
    pub(crate) fn at(doc: &'a D, heads: Option<&'a [ChangeHash]>) -> AsOf<'a, D> {
        AsOf { doc, heads }
    }
}

impl<D: ReadDoc> ReadDoc for AsOf<'_, D> {
    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Parents<'_>, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.parents_at(obj, h),
            None => self.doc.parents(obj),
        }
    }

    fn parents_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Parents<'_>, AutomergeError> {
        self.doc.parents_at(obj, heads)
    }

    fn keys<O: AsRef<ObjId>>(&self, obj: O) -> Keys<'_> {
        match self.heads {
            Some(h) => self.doc.keys_at(obj, h),
            None => self.doc.keys(obj),
        }
    }

    fn keys_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Keys<'_> {
        self.doc.keys_at(obj, heads)
    }

    fn iter_at<O: AsRef<ObjId>>(&self, obj: O, heads: Option<&[ChangeHash]>) -> DocIter<'_> {
        self.doc.iter_at(obj, heads.or(self.heads))
    }

    fn map_range<'b, O: AsRef<ObjId>, R: RangeBounds<String> + 'b>(
        &'b self,
        obj: O,
        range: R,
    ) -> MapRange<'b> {
        match self.heads {
            Some(h) => self.doc.map_range_at(obj, range, h),
            None => self.doc.map_range(obj, range),
        }
    }

    fn map_range_at<'b, O: AsRef<ObjId>, R: RangeBounds<String> + 'b>(
        &'b self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> MapRange<'b> {
        self.doc.map_range_at(obj, range, heads)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> ListRange<'_> {
        match self.heads {
            Some(h) => self.doc.list_range_at(obj, range, h),
            None => self.doc.list_range(obj, range),
        }
    }

    fn list_range_at<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> ListRange<'_> {
        self.doc.list_range_at(obj, range, heads)
    }

    fn values<O: AsRef<ObjId>>(&self, obj: O) -> Values<'_> {
        match self.heads {
            Some(h) => self.doc.values_at(obj, h),
            None => self.doc.values(obj),
        }
    }

    fn values_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Values<'_> {
        self.doc.values_at(obj, heads)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        match self.heads {
            Some(h) => self.doc.length_at(obj, h),
            None => self.doc.length(obj),
        }
    }

    fn length_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> usize {
        self.doc.length_at(obj, heads)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Result<ObjType, AutomergeError> {
        self.doc.object_type(obj)
    }

    fn marks<O: AsRef<ObjId>>(&self, obj: O) -> Result<Vec<Mark>, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.marks_at(obj, h),
            None => self.doc.marks(obj),
        }
    }

    fn marks_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Vec<Mark>, AutomergeError> {
        self.doc.marks_at(obj, heads)
    }

    fn get_marks<O: AsRef<ObjId>>(
        &self,
        obj: O,
        index: usize,
        heads: Option<&[ChangeHash]>,
    ) -> Result<MarkSet, AutomergeError> {
        self.doc.get_marks(obj, index, heads.or(self.heads))
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.text_at(obj, h),
            None => self.doc.text(obj),
        }
    }

    fn text_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<String, AutomergeError> {
        self.doc.text_at(obj, heads)
    }

    fn spans<O: AsRef<ObjId>>(&self, obj: O) -> Result<Spans<'_>, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.spans_at(obj, h),
            None => self.doc.spans(obj),
        }
    }

    fn spans_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Spans<'_>, AutomergeError> {
        self.doc.spans_at(obj, heads)
    }

    fn get_cursor<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
    ) -> Result<Cursor, AutomergeError> {
        self.doc.get_cursor(obj, position, at.or(self.heads))
    }

    fn get_cursor_moving<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
        move_cursor: MoveCursor,
    ) -> Result<Cursor, AutomergeError> {
        self.doc
            .get_cursor_moving(obj, position, at.or(self.heads), move_cursor)
    }

    fn get_cursor_position<O: AsRef<ObjId>>(
        &self,
        obj: O,
        cursor: &Cursor,
        at: Option<&[ChangeHash]>,
    ) -> Result<usize, AutomergeError> {
        self.doc.get_cursor_position(obj, cursor, at.or(self.heads))
    }

    fn get<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.get_at(obj, prop, h),
            None => self.doc.get(obj, prop),
        }
    }

    fn get_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_at(obj, prop, heads)
    }

    fn hydrate<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: Option<&[ChangeHash]>,
    ) -> Result<hydrate::Value, AutomergeError> {
        ReadDoc::hydrate(self.doc, obj, heads.or(self.heads))
    }

    fn get_all<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        match self.heads {
            Some(h) => self.doc.get_all_at(obj, prop, h),
            None => self.doc.get_all(obj, prop),
        }
    }

    fn get_all_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_all_at(obj, prop, heads)
    }

    fn get_missing_deps(&self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(heads)
    }

    fn get_change_by_hash(&self, hash: &ChangeHash) -> Option<Change> {
        self.doc.get_change_by_hash(hash)
    }

    fn stats(&self) -> Stats {
        self.doc.stats()
    }

    fn text_encoding(&self) -> TextEncoding {
        self.doc.text_encoding()
    }
}
