//! An item's lineage, error and files packed into one word.
//!
//! The one place in the workspace with `unsafe` code: a tagged pointer. A million items are
//! 32 MB instead of 56 MB with it (see bench/REPORT.md, section io); `tests` below walks every
//! state change, and the invariants are stated on [`Tail`].
#![allow(unsafe_code)]

use super::{Binaries, Paired, PairedItem};
use crate::error::NodeError;

/// An item's lineage, error and files in one word. Most items have exactly one source and
/// nothing else: the word holds that source inline. Anything more lives in a box.
///
/// The word is a pointer: null for nothing; an odd address for one source (the item index in
/// bits 32–63, the input in bits 1–31), which is never dereferenced; otherwise a `Box<Extra>`
/// this tail owns.
pub(super) struct Tail(*mut Extra);

// A `Tail` owns its box like a `Box<Extra>` would, and `Extra` is `Send` and `Sync`.
unsafe impl Send for Tail {}
unsafe impl Sync for Tail {}

const _: () = assert!(usize::BITS == 64, "Tail packs a source item into a 64-bit word");

#[derive(Clone, Default, PartialEq, Debug)]
pub(super) struct Extra {
    pub paired: Paired,
    pub error: Option<NodeError>,
    pub binary: Binaries,
}

pub(super) enum View<'a> {
    Empty,
    One(PairedItem),
    Extra(&'a Extra),
}

impl Tail {
    pub(super) fn inline(p: PairedItem) -> Option<Tail> {
        (p.input < 1 << 31).then(|| {
            let word = ((p.item as usize) << 32) | ((p.input as usize) << 1) | 1;
            Tail(std::ptr::without_provenance_mut(word))
        })
    }

    pub(super) fn boxed(extra: Extra) -> Tail {
        Tail(Box::into_raw(Box::new(extra)))
    }

    pub(super) fn from_paired(paired: Paired) -> Tail {
        match paired {
            Paired::None => Tail::default(),
            Paired::One(p) => Tail::inline(p).unwrap_or_else(|| Tail::boxed(Extra { paired, ..Extra::default() })),
            Paired::Many(_) => Tail::boxed(Extra { paired, ..Extra::default() }),
        }
    }

    pub(super) fn view(&self) -> View<'_> {
        let word = self.0.addr();
        if word == 0 {
            View::Empty
        } else if word & 1 == 1 {
            View::One(PairedItem { item: (word >> 32) as u32, input: ((word & 0xffff_ffff) >> 1) as u32 })
        } else {
            // SAFETY: an even, non-null word is the box this tail owns.
            View::Extra(unsafe { &*self.0 })
        }
    }

    /// The boxed part, made first when the tail has none.
    pub(super) fn extra_mut(&mut self) -> &mut Extra {
        let paired = match self.view() {
            View::Extra(_) => None,
            View::Empty => Some(Paired::None),
            View::One(p) => Some(Paired::One(p)),
        };
        if let Some(paired) = paired {
            *self = Tail::boxed(Extra { paired, ..Extra::default() });
        }
        // SAFETY: the tail now holds the box it owns, borrowed mutably through `self`.
        unsafe { &mut *self.0 }
    }

    /// Goes back to one word when the box holds no more than what fits in one.
    pub(super) fn settle(&mut self) {
        if let View::Extra(e) = self.view()
            && e.error.is_none()
            && e.binary.is_empty()
        {
            let word = match &e.paired {
                Paired::None => Some(Tail::default()),
                Paired::One(p) => Tail::inline(*p),
                Paired::Many(_) => None,
            };
            if let Some(word) = word {
                *self = word;
            }
        }
    }
}

impl Default for Tail {
    fn default() -> Tail {
        Tail(std::ptr::null_mut())
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        if let View::Extra(_) = self.view() {
            // SAFETY: the box this tail owns, dropped once.
            drop(unsafe { Box::from_raw(self.0) });
        }
    }
}

impl Clone for Tail {
    fn clone(&self) -> Tail {
        match self.view() {
            View::Extra(e) => Tail::boxed(e.clone()),
            _ => Tail(std::ptr::without_provenance_mut(self.0.addr())),
        }
    }
}

impl PartialEq for Tail {
    fn eq(&self, other: &Tail) -> bool {
        match (self.view(), other.view()) {
            (View::Extra(a), View::Extra(b)) => a == b,
            (View::Extra(_), _) | (_, View::Extra(_)) => false,
            _ => self.0.addr() == other.0.addr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::item::{BinaryData, Item};
    use crate::value::Value;

    fn file(name: &str) -> BinaryData {
        BinaryData {
            file_name: name.into(),
            mime_type: "text/plain".into(),
            size: 1,
            sha256: "ab".into(),
            reference: "ab".into(),
        }
    }

    fn boxed(item: &Item) -> bool {
        matches!(item.tail.view(), View::Extra(_))
    }

    #[test]
    fn one_source_stays_in_the_word() {
        let max = PairedItem { item: u32::MAX, input: (1 << 31) - 1 };
        for p in [PairedItem { item: 0, input: 0 }, PairedItem { item: 7, input: 3 }, max] {
            let item = Item::with_paired(Value::Null, Paired::One(p));
            assert!(!boxed(&item));
            assert_eq!(item.paired(), Paired::One(p));
            assert_eq!(item.source(), Some(p));
            assert_eq!(item.clone(), item);
        }
        let wide = PairedItem { item: 1, input: 1 << 31 };
        let item = Item::with_paired(Value::Null, Paired::One(wide));
        assert!(boxed(&item), "an input beyond 31 bits goes into the box");
        assert_eq!(item.source(), Some(wide));
        assert_eq!(Item::new(Value::Null).paired(), Paired::None);
    }

    #[test]
    fn errors_and_files_box_and_unbox() {
        let mut item = Item::derived(Value::Null, 5);
        item.set_error(crate::error::NodeError::new(ErrorCode::InvalidWorkflow, "no"));
        assert!(boxed(&item));
        assert_eq!(item.source(), Some(PairedItem { item: 5, input: 0 }));
        let copy = item.clone();
        assert_eq!(copy.error().map(|e| e.message.as_str()), Some("no"));
        assert_eq!(item.take_error().map(|e| e.message), Some("no".to_string()));
        assert!(!boxed(&item), "back to one word once the error is gone");
        assert_eq!(item, Item::derived(Value::Null, 5));
        assert!(copy.error().is_some(), "a clone owns its own box");
        assert_ne!(copy, item);

        item.set_file("a", file("a.txt"));
        item.set_file("b", file("b.txt"));
        assert_eq!(item.binary().map(|b| b.len()), Some(2));
        assert_eq!(item.references().count(), 2);
        item.set_paired(Paired::item(9));
        assert!(boxed(&item), "files keep the box when the source changes");
        assert_eq!(item.source().map(|p| p.item), Some(9));
        assert_eq!(item.take_binary().len(), 2);
        assert!(!boxed(&item));
        assert_eq!(item.binary(), None);
        assert_eq!(item.source().map(|p| p.item), Some(9));

        item.set_paired(Paired::many(vec![PairedItem { item: 1, input: 0 }, PairedItem { item: 2, input: 1 }]));
        assert!(boxed(&item), "several sources live in the box");
        assert_eq!(item.paired().as_slice().len(), 2);
        item.set_paired(Paired::None);
        assert!(!boxed(&item));
        assert_eq!(item.paired(), Paired::None);
        item.set_binary(Binaries::new());
        assert!(!boxed(&item), "no files set is no box");
    }

    #[test]
    fn items_move_between_threads_and_drop_once() {
        let items: Vec<Item> = (0..1000)
            .map(|i| {
                let mut item = Item::derived(Value::from(i as i64), i);
                if i % 3 == 0 {
                    item.set_file("f", file("f"));
                }
                item
            })
            .collect();
        let copies = items.clone();
        let back = std::thread::spawn(move || items.into_iter().rev().collect::<Vec<_>>()).join().unwrap();
        assert_eq!(back.len(), 1000);
        assert!(back.iter().rev().eq(copies.iter()));
    }
}
