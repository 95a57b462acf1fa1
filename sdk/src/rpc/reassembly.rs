//! Joins the pieces of a body that was split over several messages.
//!
//! A sender sends one split body at a time (its pieces are never interleaved with another
//! split body's), so one slot is enough: memory stays bounded by one body of at most the
//! limit, whatever the remote sends. A split body that a new one replaces was abandoned
//! (its call was cancelled mid-send) and is dropped.

use std::borrow::Cow;

use super::wire::{Kind, Piece};

/// What a piece completed.
#[derive(Debug)]
pub(crate) enum Assembled<'a> {
    /// A whole body.
    Whole(Cow<'a, [u8]>),
    /// More pieces are to come.
    Pending,
    /// The body just passed the limit (told once; its remaining pieces are skipped).
    TooLarge { size: u64 },
    /// A piece of a body that is being skipped.
    Skipped,
}

struct Partial {
    kind: Kind,
    id: u64,
    body: Vec<u8>,
    seen: u64,
    skipping: bool,
}

/// The one slot of a split body in progress.
pub(crate) struct Reassembly {
    limit: usize,
    slot: Option<Partial>,
}

impl Reassembly {
    /// Bodies larger than `limit` bytes are refused.
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, slot: None }
    }

    /// Adds a piece.
    pub(crate) fn push<'a>(&mut self, piece: &Piece<'a>) -> Assembled<'a> {
        let ours = self
            .slot
            .as_ref()
            .is_some_and(|p| p.kind == piece.kind && p.id == piece.id);
        if !ours {
            if !piece.more {
                return if piece.data.len() > self.limit {
                    Assembled::TooLarge {
                        size: piece.data.len() as u64,
                    }
                } else {
                    Assembled::Whole(Cow::Borrowed(piece.data))
                };
            }
            if self.slot.is_some() {
                tracing::debug!("rpc: dropping an abandoned split body");
            }
            self.slot = Some(Partial {
                kind: piece.kind,
                id: piece.id,
                body: Vec::new(),
                seen: 0,
                skipping: false,
            });
        }
        // The slot is ours: either it matched, or it was just filled.
        let Some(partial) = self.slot.as_mut() else {
            return Assembled::Skipped;
        };
        partial.seen += piece.data.len() as u64;
        let outcome = if partial.skipping {
            Assembled::Skipped
        } else if partial.seen > self.limit as u64 {
            partial.skipping = true;
            partial.body = Vec::new();
            Assembled::TooLarge { size: partial.seen }
        } else {
            partial.body.extend_from_slice(piece.data);
            Assembled::Pending
        };
        if piece.more {
            return outcome;
        }
        let done = self.slot.take();
        match (outcome, done) {
            (Assembled::Pending, Some(p)) => Assembled::Whole(Cow::Owned(p.body)),
            (other, _) => other,
        }
    }

    /// Forgets a split body of this kind and call (the call was cancelled).
    pub(crate) fn forget(&mut self, kind: Kind, id: u64) {
        if self
            .slot
            .as_ref()
            .is_some_and(|p| p.kind == kind && p.id == id)
        {
            self.slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(kind: Kind, id: u64, more: bool, data: &[u8]) -> Piece<'_> {
        Piece {
            kind,
            id,
            more,
            data,
        }
    }

    fn whole(a: Assembled<'_>) -> Vec<u8> {
        match a {
            Assembled::Whole(b) => b.into_owned(),
            other => panic!("expected a whole body, got {other:?}"),
        }
    }

    #[test]
    fn pieces_join_and_single_messages_pass_through() {
        let mut r = Reassembly::new(100);
        assert!(matches!(
            r.push(&piece(Kind::Request, 1, true, b"ab")),
            Assembled::Pending
        ));
        // A single message of another call in between is not disturbed.
        assert_eq!(whole(r.push(&piece(Kind::Response, 9, false, b"z"))), b"z");
        assert_eq!(
            whole(r.push(&piece(Kind::Request, 1, false, b"cd"))),
            b"abcd"
        );
        assert_eq!(whole(r.push(&piece(Kind::Item, 2, false, b""))), b"");
    }

    #[test]
    fn an_oversized_body_is_told_once_and_then_skipped() {
        let mut r = Reassembly::new(4);
        assert!(matches!(
            r.push(&piece(Kind::Request, 1, true, b"abc")),
            Assembled::Pending
        ));
        assert!(matches!(
            r.push(&piece(Kind::Request, 1, true, b"def")),
            Assembled::TooLarge { size: 6 }
        ));
        assert!(matches!(
            r.push(&piece(Kind::Request, 1, false, b"g")),
            Assembled::Skipped
        ));
        // The slot is free again.
        assert_eq!(whole(r.push(&piece(Kind::Request, 2, false, b"ok"))), b"ok");
        assert!(matches!(
            r.push(&piece(Kind::Request, 3, false, b"12345")),
            Assembled::TooLarge { size: 5 }
        ));
    }

    #[test]
    fn abandoned_and_forgotten_bodies_are_dropped() {
        let mut r = Reassembly::new(100);
        r.push(&piece(Kind::Request, 1, true, b"old"));
        r.push(&piece(Kind::Request, 2, true, b"new"));
        assert_eq!(
            whole(r.push(&piece(Kind::Request, 2, false, b"!"))),
            b"new!"
        );
        r.push(&piece(Kind::Request, 3, true, b"gone"));
        r.forget(Kind::Request, 3);
        // The last piece of a forgotten body arrives alone: it is just that piece.
        assert_eq!(whole(r.push(&piece(Kind::Request, 3, false, b"x"))), b"x");
    }
}
