//! The variable stack of one render. A `{{template}}` call starts a frame
//! at `base`: the callee sees only its own variables, as with Go's fresh
//! `state.vars`, without a new allocation per call.

use crate::value::Value;

type Slot<'t, 'a> = (&'t str, Value<'a>);

pub(crate) struct Vars<'t, 'a> {
    slots: Vec<Slot<'t, 'a>>,
    base: usize,
}

impl<'t, 'a> Vars<'t, 'a> {
    pub fn new() -> Self {
        Vars {
            // `$`, the four alert prefix variables and a few of the
            // template's own: one allocation for nearly every render.
            // (An inline array measured slower: moving and dropping it
            // costs more than the allocation.)
            slots: Vec::with_capacity(8),
            base: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn push(&mut self, slot: Slot<'t, 'a>) {
        self.slots.push(slot);
    }

    pub fn extend<const N: usize>(&mut self, slots: [Slot<'t, 'a>; N]) {
        self.slots.extend(slots);
    }

    /// Drop the variables past `len` (never below the current frame).
    pub fn truncate(&mut self, len: usize) {
        self.slots.truncate(len.max(self.base));
    }

    /// Set the value of the variable `back` slots from the top (0: top).
    pub fn set_from_top(&mut self, back: usize, v: Value<'a>) {
        let i = self.slots.len() - 1 - back;
        self.slots[i].1 = v;
    }

    /// The innermost variable called `name` in the current frame.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.slots[self.base..]
            .iter()
            .rev()
            .find(|s| s.0 == name)
            .map(|s| &s.1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value<'a>> {
        self.slots[self.base..]
            .iter_mut()
            .rev()
            .find(|s| s.0 == name)
            .map(|s| &mut s.1)
    }

    /// Start a `{{template}}` frame whose only variable is `$`; returns
    /// the frame to restore with [`Vars::leave`].
    pub fn enter(&mut self, dot: Value<'a>) -> usize {
        let saved = self.base;
        self.base = self.slots.len();
        self.slots.push(("$", dot));
        saved
    }

    pub fn leave(&mut self, saved: usize) {
        self.slots.truncate(self.base);
        self.base = saved;
    }
}
