//! The run-time heap: every dynamic value is one 64-bit [`Word`]; compound values are
//! handles to objects kept here.
//!
//! Words carry no tags: the type checker has proven every type, so the code that uses a
//! word knows statically whether it is a handle. Objects, on the other hand, describe
//! their own layout (a tuple records which fields are handles, a cons cell whether its
//! head is), so copying and collecting need no types.
//!
//! There are two spaces:
//! - the **scratch** space holds everything allocated while one packet (or one REPL
//!   input) is processed; it is emptied when that work ends, so temporary values die with
//!   their packet;
//! - the **persistent** space holds what outlives a packet: states, globals, string
//!   literals and hash tables. Values move there by [`Heap::promote`] (a deep copy that
//!   keeps sharing), and a mark-and-sweep collection ([`Heap::collect`]) frees what the
//!   roots no longer reach. Hash tables are always persistent and are the only mutable
//!   objects; their mutations can be journalled and undone.
//!
//! Invariant: no persistent object refers to a scratch object. `promote` and
//! `table_put` maintain it; that is what makes emptying the scratch space safe.

use crate::types::Type;
use std::collections::HashMap;

/// A dynamic value: an unboxed scalar or a handle.
pub type Word = u64;

/// The empty list (and, by coincidence of representation, `()`, `false` and `0`).
pub const NIL: Word = 0;

/// Set in handles to scratch objects.
const SCRATCH_BIT: Word = 1 << 63;

/// The most bytes the scratch space may take while one packet is processed, 64 MiB:
/// the bytes of strings, blobs and headers (the frame included), the words of tuples,
/// and [`SCRATCH_OBJECT_BYTES`] per object (a list cell is one). Far above what a
/// packet's processing needs, and far below what the 32-bit offsets of scratch objects
/// can address. See [`Heap::scratch_room`].
pub const SCRATCH_BYTES_LIMIT: usize = 64 << 20;

/// What one scratch object (a list cell, say) counts for against
/// [`SCRATCH_BYTES_LIMIT`]: its size.
pub const SCRATCH_OBJECT_BYTES: usize = std::mem::size_of::<SObj>();

/// A scratch object: its contents live in the scratch arenas (`sbytes`, `swords`), so
/// allocating one allocates no memory once the arenas have grown to a packet's needs.
#[derive(Clone, Copy, Debug)]
enum SObj {
    /// Bytes `start..start + len` of the byte arena.
    Bytes { start: u32, len: u32 },
    /// Words `start..start + len` of the word arena; bit `i` of the mask says whether
    /// field `i` is a handle.
    Tuple { start: u32, len: u32, mask: u64 },
    /// A list cell: head, tail, and whether the head is a handle.
    Cons { head: Word, tail: Word, ptr: bool },
}

/// A persistent heap object.
#[derive(Debug)]
enum Obj {
    /// A string, a blob or a header: immutable bytes.
    Bytes(Box<[u8]>),
    /// A tuple; bit `i` of the mask says whether field `i` is a handle.
    Tuple(Box<[Word]>, u64),
    /// A list cell: head, tail, and whether the head is a handle.
    Cons(Word, Word, bool),
    /// A hash table (persistent space only).
    Table(Box<Table>),
    /// A freed persistent slot.
    Free,
}

/// A hash table's contents: encoded key to (value, value-is-a-handle).
#[derive(Debug, Default)]
pub struct Table {
    map: HashMap<Box<[u8]>, (Word, bool)>,
}

/// One undoable table mutation.
#[derive(Debug)]
struct Undo {
    table: Word,
    key: Box<[u8]>,
    old: Option<(Word, bool)>,
}

/// Counters describing the heap, for tests and the REPL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Objects in the scratch space.
    pub scratch_objects: usize,
    /// Live (not freed) objects in the persistent space.
    pub persistent_objects: usize,
    /// Slots in the persistent space, live or free (its high-water mark).
    pub persistent_slots: usize,
    /// Completed collections.
    pub collections: u64,
}

/// The heap. See the module documentation.
#[derive(Debug, Default)]
pub struct Heap {
    scratch: Vec<SObj>,
    /// The scratch byte arena.
    sbytes: Vec<u8>,
    /// The scratch word arena.
    swords: Vec<Word>,
    /// For each scratch object, the persistent copy made by `promote` (0: none yet; an
    /// object allocated since the last `promote` may have no entry, which means 0).
    forward: Vec<Word>,
    persist: Vec<Obj>,
    free: Vec<u32>,
    live: usize,
    live_after_gc: usize,
    allocated_since_gc: usize,
    collections: u64,
    journal: Option<Vec<Undo>>,
    /// The last table lookup, answered again without hashing when the next one asks for
    /// the same key of the same table: PLAN-P has no option type, so a program asks
    /// `tableMember` and then `tableGet` of one key. Forgotten by every change to any
    /// table (put, remove, rollback) and by collection (which may free a table and give
    /// its handle to a new one).
    last_lookup: LastLookup,
    /// Where the input ([`Heap::set_input`]) is in the scratch byte arena.
    input_start: u32,
    input_len: u32,
}

/// See [`Heap::last_lookup`](Heap).
#[derive(Debug, Default)]
struct LastLookup {
    /// The table (0: no lookup remembered; handles start at 1).
    table: Word,
    /// The encoded key (the buffer is kept: no allocation per lookup).
    key: Vec<u8>,
    /// The key as a word (a scalar, or a handle on an immutable object), when it is
    /// known: the same word is the same key, so a lookup of it needs no encoding. Handles
    /// are reused only after the scratch space is reset or a collection, which forget it.
    key_word: Option<Word>,
    /// The kind of type `key_word` was encoded at (its variant). A table has one key
    /// type, so one word is one key; the variant is checked as well, so that a caller
    /// that mixed key types (int 5, char 5: one word, two keys) would miss rather than
    /// be answered wrongly. One handle is one immutable object, seen at one type.
    key_kind: Option<std::mem::Discriminant<Type>>,
    /// What the table held under it.
    found: Option<Word>,
}

impl Heap {
    /// An empty heap.
    pub fn new() -> Self {
        Self::default()
    }

    // ---- allocation -------------------------------------------------------------

    #[inline]
    fn alloc_scratch(&mut self, o: SObj) -> Word {
        let i = self.scratch.len() as Word;
        self.scratch.push(o);
        SCRATCH_BIT | i
    }

    /// Would the scratch space still be within [`SCRATCH_BYTES_LIMIT`] with `n` more
    /// bytes? The operations whose results can grow exponentially with a program's size
    /// (the concatenations `^` and `@`, doubled in a chain of `let`s or a fold) ask
    /// before allocating, and raise [`crate::rt::RESOURCE_LIMIT`] when not; so does
    /// `explode`, whose list takes [`SCRATCH_OBJECT_BYTES`] per character.
    #[inline]
    pub fn scratch_room(&self, n: usize) -> bool {
        let used = self.sbytes.len() + self.swords.len() * 8 + self.scratch.len() * SCRATCH_OBJECT_BYTES;
        used.saturating_add(n) <= SCRATCH_BYTES_LIMIT
    }

    #[inline]
    fn scratch_bytes(&mut self, b: &[u8]) -> Word {
        let start = self.sbytes.len() as u32;
        self.sbytes.extend_from_slice(b);
        self.alloc_scratch(SObj::Bytes { start, len: b.len() as u32 })
    }

    #[inline]
    fn scratch_tuple(&mut self, fields: &[Word], mask: u64) -> Word {
        let start = self.swords.len() as u32;
        self.swords.extend_from_slice(fields);
        self.alloc_scratch(SObj::Tuple { start, len: fields.len() as u32, mask })
    }

    /// The scratch object behind a scratch handle.
    #[inline]
    fn sobj(&self, h: Word) -> SObj {
        self.scratch[(h & !SCRATCH_BIT) as usize]
    }

    fn alloc_persist(&mut self, o: Obj) -> Word {
        self.live += 1;
        self.allocated_since_gc += 1;
        if let Some(i) = self.free.pop() {
            self.persist[i as usize] = o;
            i as Word + 1
        } else {
            self.persist.push(o);
            self.persist.len() as Word
        }
    }

    /// New bytes (string, blob or header) in the scratch space.
    #[inline]
    pub fn alloc_bytes(&mut self, b: &[u8]) -> Word {
        self.scratch_bytes(b)
    }

    /// Put `frame` in the scratch byte arena as the input of the packet being processed
    /// (after anything already there): [`Heap::input`] reads it and
    /// [`Heap::input_bytes`] makes bytes objects of its parts without copying them.
    /// Gone with the rest of the scratch space at [`Heap::reset_scratch`].
    pub fn set_input(&mut self, frame: &[u8]) {
        self.input_start = self.sbytes.len() as u32;
        self.input_len = frame.len() as u32;
        self.sbytes.extend_from_slice(frame);
    }

    /// The input set by [`Heap::set_input`] (empty when there is none).
    #[inline]
    pub fn input(&self) -> &[u8] {
        let s = self.input_start as usize;
        &self.sbytes[s..s + self.input_len as usize]
    }

    /// A bytes object (in the scratch space) of the input's bytes `start..start + len`,
    /// which must be within it: the input's own bytes, not a copy.
    #[inline]
    pub fn input_bytes(&mut self, start: usize, len: usize) -> Word {
        assert!(
            start.checked_add(len).is_some_and(|e| e <= self.input_len as usize),
            "internal error: not in the input"
        );
        self.alloc_scratch(SObj::Bytes { start: self.input_start + start as u32, len: len as u32 })
    }

    /// A copy of the bytes of `src` with `n` bytes at `off` set to `v` (big-endian; an
    /// offset beyond the end changes nothing), built in place in the scratch space: a
    /// functional setter without a temporary buffer.
    #[inline]
    pub fn bytes_with_field(&mut self, src: Word, off: usize, n: usize, v: u64) -> Word {
        let start = self.sbytes.len();
        if Self::is_scratch(src) {
            let SObj::Bytes { start: s, len } = self.sobj(src) else {
                panic!("internal error: bytes() on a non-bytes object")
            };
            self.sbytes.extend_from_within(s as usize..(s + len) as usize);
        } else {
            debug_assert!(src & SCRATCH_BIT == 0);
            let Obj::Bytes(b) = &self.persist[(src - 1) as usize] else {
                panic!("internal error: bytes() on a non-bytes object")
            };
            self.sbytes.extend_from_slice(b);
        }
        let len = self.sbytes.len() - start;
        if let Some(f) = self.sbytes[start..].get_mut(off..off + n) {
            for (i, x) in f.iter_mut().enumerate() {
                *x = (v >> (8 * (n - 1 - i))) as u8;
            }
        }
        self.alloc_scratch(SObj::Bytes { start: start as u32, len: len as u32 })
    }

    /// New bytes, from a buffer.
    pub fn alloc_bytes_vec(&mut self, b: Vec<u8>) -> Word {
        self.scratch_bytes(&b)
    }

    /// New bytes in the persistent space, never freed while they are reachable from a
    /// root (used for string literals, which the program keeps as roots).
    pub fn alloc_bytes_persistent(&mut self, b: &[u8]) -> Word {
        self.alloc_persist(Obj::Bytes(b.into()))
    }

    /// A new tuple with the given fields.
    #[inline]
    pub fn tuple_from(&mut self, fields: &[Word], mask: u64) -> Word {
        self.scratch_tuple(fields, mask)
    }

    /// A new list cell.
    #[inline]
    pub fn cons(&mut self, head: Word, tail: Word, head_is_ptr: bool) -> Word {
        self.alloc_scratch(SObj::Cons { head, tail, ptr: head_is_ptr })
    }

    /// A new, empty hash table (always persistent: tables have identity and outlive the
    /// packet that made them if a state keeps them).
    pub fn table_new(&mut self) -> Word {
        self.alloc_persist(Obj::Table(Box::default()))
    }

    // ---- access -----------------------------------------------------------------

    /// A persistent object (the handle must not be a scratch one).
    #[inline]
    fn obj(&self, h: Word) -> &Obj {
        debug_assert!(h & SCRATCH_BIT == 0);
        &self.persist[(h - 1) as usize]
    }

    #[inline]
    fn obj_mut(&mut self, h: Word) -> &mut Obj {
        debug_assert!(h & SCRATCH_BIT == 0);
        &mut self.persist[(h - 1) as usize]
    }

    /// Is `h` a handle to a scratch object?
    #[inline]
    pub fn is_scratch(h: Word) -> bool {
        h & SCRATCH_BIT != 0
    }

    /// The bytes of a string, blob or header.
    #[inline]
    pub fn bytes(&self, h: Word) -> &[u8] {
        if Self::is_scratch(h) {
            if let Some(&SObj::Bytes { start, len }) = self.scratch.get((h & !SCRATCH_BIT) as usize)
                && let Some(b) = self.sbytes.get(start as usize..(start + len) as usize)
            {
                return b;
            }
        } else if let Some(Obj::Bytes(b)) = self.persist.get(h.wrapping_sub(1) as usize) {
            return b;
        }
        self.not_a(h, "bytes")
    }

    /// The fields of a tuple.
    #[inline]
    pub fn fields(&self, h: Word) -> &[Word] {
        if Self::is_scratch(h) {
            if let Some(&SObj::Tuple { start, len, .. }) = self.scratch.get((h & !SCRATCH_BIT) as usize)
                && let Some(f) = self.swords.get(start as usize..(start + len) as usize)
            {
                return f;
            }
        } else if let Some(Obj::Tuple(f, _)) = self.persist.get(h.wrapping_sub(1) as usize) {
            return f;
        }
        self.not_a(h, "tuple")
    }

    /// The accessors' failure, out of their way: `h` is not a handle on a `what`.
    #[cold]
    #[inline(never)]
    fn not_a(&self, h: Word, what: &str) -> ! {
        if Self::is_scratch(h) {
            let o = self.scratch.get((h & !SCRATCH_BIT) as usize);
            panic!("internal error: {what} access on {o:?}")
        }
        let o = self.persist.get(h.wrapping_sub(1) as usize);
        panic!("internal error: {what} access on {o:?}")
    }

    /// Field `i` of a tuple.
    #[inline]
    pub fn tuple_get(&self, h: Word, i: usize) -> Word {
        self.fields(h)[i]
    }

    /// Number of fields of a tuple.
    pub fn tuple_len(&self, h: Word) -> usize {
        self.fields(h).len()
    }

    /// Head and tail of a non-empty list.
    #[inline]
    fn cell(&self, h: Word) -> (Word, Word) {
        if Self::is_scratch(h) {
            match self.sobj(h) {
                SObj::Cons { head, tail, .. } => (head, tail),
                o => panic!("internal error: list access on {o:?}"),
            }
        } else {
            match self.obj(h) {
                Obj::Cons(x, t, _) => (*x, *t),
                o => panic!("internal error: list access on {o:?}"),
            }
        }
    }

    /// Head of a non-empty list.
    #[inline]
    pub fn head(&self, h: Word) -> Word {
        self.cell(h).0
    }

    /// Tail of a non-empty list.
    #[inline]
    pub fn tail(&self, h: Word) -> Word {
        self.cell(h).1
    }

    /// The elements of a list, in order.
    pub fn list_to_vec(&self, mut l: Word) -> Vec<Word> {
        let mut v = Vec::new();
        while l != NIL {
            v.push(self.head(l));
            l = self.tail(l);
        }
        v
    }

    /// Build a list from elements.
    pub fn list_from(&mut self, elems: &[Word], elem_is_ptr: bool) -> Word {
        let mut l = NIL;
        for &e in elems.iter().rev() {
            l = self.cons(e, l, elem_is_ptr);
        }
        l
    }

    // ---- tables -----------------------------------------------------------------

    #[inline]
    fn table(&self, t: Word) -> &Table {
        match self.obj(t) {
            Obj::Table(tb) => tb,
            o => panic!("internal error: table access on {o:?}"),
        }
    }

    #[inline]
    fn table_mut(&mut self, t: Word) -> &mut Table {
        match self.obj_mut(t) {
            Obj::Table(tb) => tb,
            o => panic!("internal error: table access on {o:?}"),
        }
    }

    /// The value stored under an encoded key.
    #[inline]
    pub fn table_get(&mut self, t: Word, key: &[u8]) -> Option<Word> {
        if self.last_lookup.table == t && self.last_lookup.key == key {
            self.last_lookup.key_word = None;
            return self.last_lookup.found;
        }
        let found = self.table(t).map.get(key).map(|&(w, _)| w);
        let last = &mut self.last_lookup;
        last.table = t;
        last.key.clear();
        last.key.extend_from_slice(key);
        last.key_word = None;
        last.found = found;
        found
    }

    /// What the last lookup found, if it was of table `t` and key word `k` (see
    /// [`Heap::remember_key_word`]): the answer of a lookup of `k`, without encoding it.
    #[inline]
    pub fn remembered(&self, t: Word, k: Word, ty: &Type) -> Option<Option<Word>> {
        let last = &self.last_lookup;
        (last.table == t && t != 0 && last.key_word == Some(k) && last.key_kind == Some(std::mem::discriminant(ty)))
            .then_some(last.found)
    }

    /// Say that the key of the lookup just made ([`Heap::table_get`]) is the word `k` of
    /// type `ty`.
    #[inline]
    pub fn remember_key_word(&mut self, k: Word, ty: &Type) {
        let last = &mut self.last_lookup;
        last.key_word = Some(k);
        last.key_kind = Some(std::mem::discriminant(ty));
    }

    /// Forget the last lookup: a table changed.
    #[inline]
    fn tables_changed(&mut self) {
        self.last_lookup.table = 0;
    }

    /// Store `val` under an encoded key. The value is promoted to the persistent space
    /// first, so the table never refers to a scratch object.
    pub fn table_put(&mut self, t: Word, key: &[u8], val: Word, val_is_ptr: bool) {
        self.tables_changed();
        let val = self.promote(val, val_is_ptr);
        let map = &mut self.table_mut(t).map;
        // Replacing keeps the stored key (no allocation); only a new key is copied.
        let old = match map.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, (val, val_is_ptr))),
            None => map.insert(key.into(), (val, val_is_ptr)),
        };
        if let Some(j) = &mut self.journal {
            j.push(Undo { table: t, key: key.into(), old });
        }
    }

    /// Remove the entry under an encoded key; returns whether there was one.
    pub fn table_remove(&mut self, t: Word, key: &[u8]) -> bool {
        self.tables_changed();
        let old = self.table_mut(t).map.remove(key);
        let had = old.is_some();
        if had && let Some(j) = &mut self.journal {
            j.push(Undo { table: t, key: key.into(), old });
        }
        had
    }

    /// Number of entries.
    pub fn table_len(&self, t: Word) -> usize {
        self.table(t).map.len()
    }

    /// The entries (encoded key, value), sorted by key so that listings are stable.
    pub fn table_entries(&self, t: Word) -> Vec<(&[u8], Word)> {
        let mut v: Vec<_> = self.table(t).map.iter().map(|(k, &(w, _))| (&**k, w)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    // ---- transactions -----------------------------------------------------------

    /// Start journalling table mutations so that [`Heap::rollback`] can undo them.
    pub fn begin(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Keep the mutations made since [`Heap::begin`].
    pub fn commit(&mut self) {
        self.journal = None;
    }

    /// Undo every table mutation made since [`Heap::begin`], newest first.
    pub fn rollback(&mut self) {
        self.tables_changed();
        if let Some(j) = self.journal.take() {
            for u in j.into_iter().rev() {
                let map = &mut self.table_mut(u.table).map;
                match u.old {
                    Some(old) => {
                        map.insert(u.key, old);
                    }
                    None => {
                        map.remove(&u.key);
                    }
                }
            }
        }
    }

    // ---- moving values out of the scratch space -----------------------------------

    /// A copy of `w` that lives in the persistent space (or `w` itself when it is a
    /// scalar or already persistent). Sharing among scratch objects is kept: an object
    /// promoted twice is copied once.
    pub fn promote(&mut self, w: Word, is_ptr: bool) -> Word {
        if !is_ptr || w == NIL || !Self::is_scratch(w) {
            return w;
        }
        // `forward` has an entry for every scratch object (0: not promoted yet), made
        // here rather than at each allocation: most scratch objects are never promoted.
        if self.forward.len() < self.scratch.len() {
            self.forward.resize(self.scratch.len(), 0);
        }
        let idx = (w & !SCRATCH_BIT) as usize;
        if self.forward[idx] != 0 {
            return self.forward[idx];
        }
        let copy = match self.scratch[idx] {
            SObj::Bytes { start, len } => {
                let b: Box<[u8]> = self.sbytes[start as usize..(start + len) as usize].into();
                self.alloc_persist(Obj::Bytes(b))
            }
            SObj::Tuple { start, len, mask } => {
                let mut out = Vec::with_capacity(len as usize);
                for i in 0..len as usize {
                    let f = self.swords[start as usize + i];
                    out.push(self.promote(f, mask >> i & 1 == 1));
                }
                self.alloc_persist(Obj::Tuple(out.into_boxed_slice(), mask))
            }
            SObj::Cons { .. } => return self.promote_list(w),
        };
        self.forward[idx] = copy;
        copy
    }

    /// Lists are promoted iteratively: a long list must not exhaust the native stack.
    fn promote_list(&mut self, w: Word) -> Word {
        // Collect the scratch prefix of the list.
        let mut cells = Vec::new();
        let mut l = w;
        while l != NIL && Self::is_scratch(l) {
            let idx = (l & !SCRATCH_BIT) as usize;
            if self.forward[idx] != 0 {
                break;
            }
            let SObj::Cons { head: h, tail: t, ptr: hp } = self.scratch[idx] else {
                panic!("internal error: list cell expected")
            };
            cells.push((idx, h, hp));
            l = t;
        }
        let mut tail = if l != NIL && Self::is_scratch(l) { self.forward[(l & !SCRATCH_BIT) as usize] } else { l };
        for &(idx, h, hp) in cells.iter().rev() {
            let h = self.promote(h, hp);
            tail = self.alloc_persist(Obj::Cons(h, tail, hp));
            self.forward[idx] = tail;
        }
        tail
    }

    /// Forget every scratch object. Callers must have promoted what they keep.
    pub fn reset_scratch(&mut self) {
        self.scratch.clear();
        self.forward.clear();
        self.sbytes.clear();
        self.swords.clear();
        (self.input_start, self.input_len) = (0, 0);
        // Scratch handles are about to be reused.
        self.last_lookup.key_word = None;
    }

    // ---- collection -------------------------------------------------------------

    /// Has enough been allocated in the persistent space since the last collection that
    /// one is worth its cost? (Amortised: at least as much new as survived the last one.)
    pub fn wants_collection(&self) -> bool {
        self.allocated_since_gc > 4096.max(self.live_after_gc)
    }

    /// Mark and sweep the persistent space from `roots` (handles; scalars must not be
    /// passed). Must be called with an empty scratch space and no open transaction.
    pub fn collect(&mut self, roots: impl IntoIterator<Item = Word>) {
        debug_assert!(self.scratch.is_empty() && self.journal.is_none());
        self.tables_changed();
        let mut marks = vec![false; self.persist.len()];
        let mut stack: Vec<Word> = roots.into_iter().filter(|&w| w != NIL && !Self::is_scratch(w)).collect();
        while let Some(h) = stack.pop() {
            let i = (h - 1) as usize;
            if marks[i] {
                continue;
            }
            marks[i] = true;
            match &self.persist[i] {
                Obj::Bytes(_) | Obj::Free => {}
                Obj::Tuple(f, mask) => {
                    for (j, &w) in f.iter().enumerate() {
                        if mask >> j & 1 == 1 && w != NIL {
                            stack.push(w);
                        }
                    }
                }
                Obj::Cons(h, t, hp) => {
                    if *hp && *h != NIL {
                        stack.push(*h);
                    }
                    if *t != NIL {
                        stack.push(*t);
                    }
                }
                Obj::Table(t) => {
                    for &(w, p) in t.map.values() {
                        if p && w != NIL {
                            stack.push(w);
                        }
                    }
                }
            }
        }
        for (i, m) in marks.iter().enumerate() {
            if !m && !matches!(self.persist[i], Obj::Free) {
                self.persist[i] = Obj::Free;
                self.free.push(i as u32);
                self.live -= 1;
            }
        }
        self.allocated_since_gc = 0;
        self.live_after_gc = self.live;
        self.collections += 1;
    }

    /// Counters describing the heap.
    pub fn stats(&self) -> HeapStats {
        HeapStats {
            scratch_objects: self.scratch.len(),
            persistent_objects: self.live,
            persistent_slots: self.persist.len(),
            collections: self.collections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promote_keeps_structure_and_sharing() {
        let mut h = Heap::new();
        let s = h.alloc_bytes(b"abc");
        let t = h.tuple_from(&[s, 7, s], 0b101);
        let l = h.list_from(&[t, t], true);
        let p = h.promote(l, true);
        assert!(!Heap::is_scratch(p));
        let elems = h.list_to_vec(p);
        assert_eq!(elems.len(), 2);
        assert_eq!(elems[0], elems[1], "the shared tuple is copied once");
        assert_eq!(h.tuple_get(elems[0], 1), 7);
        assert_eq!(h.tuple_get(elems[0], 0), h.tuple_get(elems[0], 2));
        h.reset_scratch();
        assert_eq!(h.bytes(h.tuple_get(elems[0], 0)), b"abc");
    }

    #[test]
    fn long_lists_promote_without_recursion() {
        let mut h = Heap::new();
        let elems: Vec<Word> = (0..200_000).collect();
        let l = h.list_from(&elems, false);
        let p = h.promote(l, true);
        h.reset_scratch();
        assert_eq!(h.list_to_vec(p), elems);
    }

    #[test]
    fn collection_frees_unreachable_and_keeps_reachable() {
        let mut h = Heap::new();
        let a = h.alloc_bytes(b"keep");
        let a = h.promote(a, true);
        let b = h.alloc_bytes(b"drop");
        let _b = h.promote(b, true);
        let t = h.table_new();
        let v = h.alloc_bytes(b"in table");
        h.table_put(t, b"k", v, true);
        h.reset_scratch();
        assert_eq!(h.stats().persistent_objects, 4);
        h.collect([a, t]);
        assert_eq!(h.stats().persistent_objects, 3);
        assert_eq!(h.bytes(a), b"keep");
        let got = h.table_get(t, b"k").unwrap();
        assert_eq!(h.bytes(got), b"in table");
    }

    /// Regression: the collection threshold once counted garbage as live, so a heap
    /// where everything became garbage never asked for a collection again.
    #[test]
    fn garbage_does_not_postpone_collection() {
        let mut h = Heap::new();
        let mut asked = 0;
        for i in 0..20_000u64 {
            let t = h.tuple_from(&[i], 0);
            let _garbage = h.promote(t, true);
            h.reset_scratch();
            if h.wants_collection() {
                asked += 1;
                h.collect([]);
            }
        }
        assert!(asked >= 4, "asked for {asked} collections");
        assert!(h.stats().persistent_objects <= 4097);
    }

    #[test]
    fn rollback_undoes_table_mutations_in_order() {
        let mut h = Heap::new();
        let t = h.table_new();
        h.table_put(t, b"a", 1, false);
        h.begin();
        h.table_put(t, b"a", 2, false);
        h.table_put(t, b"b", 3, false);
        assert!(h.table_remove(t, b"a"));
        h.rollback();
        assert_eq!(h.table_get(t, b"a"), Some(1));
        assert_eq!(h.table_get(t, b"b"), None);
        assert_eq!(h.table_len(t), 1);
    }

    /// The last lookup is answered again only while no table changed: each change (put,
    /// remove, rollback, a collection that frees the table and gives its handle to a new
    /// one) is seen by the next lookup, which was remembered just before it.
    #[test]
    fn a_remembered_lookup_never_hides_a_change() {
        let mut h = Heap::new();
        let t = h.table_new();
        let u = h.table_new();
        h.table_put(t, b"k", 1, false);
        h.table_put(u, b"k", 10, false);
        assert_eq!(h.table_get(t, b"k"), Some(1));
        assert_eq!(h.table_get(t, b"k"), Some(1), "asked again");
        assert_eq!(h.table_get(u, b"k"), Some(10), "same key, other table");
        assert_eq!(h.table_get(t, b"j"), None, "other key, same table");
        assert_eq!(h.table_get(t, b"j"), None);
        h.table_put(t, b"j", 2, false);
        assert_eq!(h.table_get(t, b"j"), Some(2), "after a put");
        h.table_put(t, b"j", 3, false);
        assert_eq!(h.table_get(t, b"j"), Some(3), "after a replacing put");
        assert!(h.table_remove(t, b"j"));
        assert_eq!(h.table_get(t, b"j"), None, "after a remove");

        h.begin();
        h.table_put(t, b"k", 4, false);
        assert_eq!(h.table_get(t, b"k"), Some(4));
        h.rollback();
        assert_eq!(h.table_get(t, b"k"), Some(1), "after a rollback");

        // Collected with no roots, both tables are freed; new tables reuse the handles.
        assert_eq!(h.table_get(t, b"k"), Some(1));
        h.collect([]);
        let (a, b) = (h.table_new(), h.table_new());
        assert!(a == t || b == t, "a freed handle is reused ({a}, {b}, {t})");
        assert_eq!(h.table_get(t, b"k"), None, "a new table under an old handle");
    }
}
