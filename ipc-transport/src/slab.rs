//! A small generational slab: stable keys, O(1) insert/remove, stale keys detected.

/// A key into a [`Slab`]: an index and the generation of the value stored there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    idx: u32,
    gen: u32,
}

impl Key {
    /// A key no slab hands out (for a pipe id that names nothing).
    pub(crate) const NONE: Key = Key {
        idx: u32::MAX,
        gen: u32::MAX,
    };

    /// The slot index (for mio tokens).
    pub(crate) fn index(self) -> usize {
        self.idx as usize
    }
}

#[derive(Debug)]
struct Slot<T> {
    gen: u32,
    value: Option<T>,
}

/// Values addressed by [`Key`]; a removed value's key never reaches a later value.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(idx) = self.free.pop() {
            let slot = &mut self.slots[idx as usize];
            slot.gen = slot.gen.wrapping_add(1);
            slot.value = Some(value);
            return Key { idx, gen: slot.gen };
        }
        // More than u32::MAX live values would exhaust memory long before.
        let idx = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot {
            gen: 0,
            value: Some(value),
        });
        Key { idx, gen: 0 }
    }

    /// How many values it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        self.slots
            .get(key.idx as usize)
            .filter(|s| s.gen == key.gen)
            .and_then(|s| s.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slots
            .get_mut(key.idx as usize)
            .filter(|s| s.gen == key.gen)
            .and_then(|s| s.value.as_mut())
    }

    /// The live value at slot `idx`, whatever its generation (for mio tokens).
    pub(crate) fn key_at(&self, idx: usize) -> Option<Key> {
        let s = self.slots.get(idx)?;
        s.value.as_ref().map(|_| Key {
            idx: idx as u32, // idx < slots.len() <= u32::MAX
            gen: s.gen,
        })
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.idx as usize)?;
        if slot.gen != key.gen {
            return None;
        }
        let v = slot.value.take()?;
        self.free.push(key.idx);
        self.len -= 1;
        Some(v)
    }

    pub(crate) fn keys(&self) -> Vec<Key> {
        self.iter().map(|(k, _)| k).collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value.as_ref().map(|v| {
                (
                    Key {
                        idx: i as u32,
                        gen: s.gen,
                    },
                    v,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index(), b.index());
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.key_at(b.index()), Some(b));
        assert_eq!(s.len, 1);
    }
}
