//! Where backends keep the native objects behind handles. A slab belongs to one opened
//! device and hands out ids that are never reused, so a handle from another device, and
//! one whose object is gone (freed buffer, used event), are both `InvalidArgument`,
//! never a panic or a stale object.

use std::collections::HashMap;

use crate::{DeviceId, Error, Result};

/// Native objects of one kind (`what`: "buffer", "kernel", "event") for one device.
#[derive(Debug)]
pub struct Slab<T> {
    backend: &'static str,
    what: &'static str,
    device: DeviceId,
    next: u64,
    items: HashMap<u64, T>,
}

impl<T> Slab<T> {
    pub fn new(backend: &'static str, what: &'static str, device: DeviceId) -> Self {
        Slab {
            backend,
            what,
            device,
            next: 0,
            items: HashMap::new(),
        }
    }

    /// Stores an object; the id for its handle (`Buffer::from_raw(device, id)`).
    pub fn insert(&mut self, item: T) -> u64 {
        self.next += 1;
        self.items.insert(self.next, item);
        self.next
    }

    fn mine(&self, device: DeviceId, id: u64) -> Result<()> {
        if device == self.device {
            Ok(())
        } else {
            Err(Error::invalid(
                self.backend,
                format!("{} {id} belongs to another device", self.what),
            ))
        }
    }

    /// The object behind a handle's parts (`handle.device(), handle.id()`).
    pub fn get(&self, device: DeviceId, id: u64) -> Result<&T> {
        self.mine(device, id)?;
        self.items
            .get(&id)
            .ok_or_else(|| unknown(self.backend, self.what, id))
    }

    pub fn get_mut(&mut self, device: DeviceId, id: u64) -> Result<&mut T> {
        self.mine(device, id)?;
        let (backend, what) = (self.backend, self.what);
        self.items
            .get_mut(&id)
            .ok_or_else(|| unknown(backend, what, id))
    }

    /// Takes the object out; its handle is dead from now on.
    pub fn remove(&mut self, device: DeviceId, id: u64) -> Result<T> {
        self.mine(device, id)?;
        self.items
            .remove(&id)
            .ok_or_else(|| unknown(self.backend, self.what, id))
    }

    /// Puts an object taken out with `remove` back under the same id (for backends that
    /// must hold several objects mutably at once).
    pub fn restore(&mut self, id: u64, item: T) {
        self.items.insert(id, item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every object with its id (for teardown and bulk operations).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.items.iter().map(|(id, item)| (*id, item))
    }

    /// Removes every object (for teardown).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain().map(|(_, item)| item)
    }
}

fn unknown(backend: &str, what: &str, id: u64) -> Error {
    Error::invalid(backend, format!("unknown or released {what} {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_released_ids_are_invalid() {
        let (mine, theirs) = (DeviceId::fresh(), DeviceId::fresh());
        let mut slab = Slab::new("test", "buffer", mine);
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_ne!(a, b);
        assert_eq!(*slab.get(mine, a).unwrap(), "a");
        assert!(matches!(
            slab.get(theirs, a),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(slab.remove(mine, a).unwrap(), "a");
        assert!(matches!(
            slab.get(mine, a),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            slab.remove(mine, a),
            Err(Error::InvalidArgument { .. })
        ));
        // Ids are never reused, so a stale handle can never reach a new object.
        assert!(slab.insert("c") > b);
    }
}
