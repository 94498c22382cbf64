//! The ids of an application's revoked tokens, as an immutable value that
//! requests read without a lock while the feed swaps in the next one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use latchkey_core::Id;

/// Below this many changes, a new value copies the changes alone.
const MIN_CHANGES_KEPT_APART: usize = 1_024;

/// The revoked list as read (`base`, shared between values) and the token
/// changes the feed reported since (`changed`: id to revoked or not), so one
/// change costs a copy of the few changes, not of a million-id list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Revocations {
    base: Arc<HashSet<Id>>,
    changed: HashMap<Id, bool>,
}

impl Revocations {
    pub fn new(revoked: HashSet<Id>) -> Revocations {
        Revocations {
            base: Arc::new(revoked),
            changed: HashMap::new(),
        }
    }

    pub fn is_revoked(&self, id: &Id) -> bool {
        match self.changed.get(id) {
            Some(&revoked) => revoked,
            None => self.base.contains(id),
        }
    }

    /// These with `changes` (token id, revoked) applied in order. Once the
    /// changes outgrow an eighth of the list they are folded into it, so a
    /// lookup stays two hash probes at most and a copy stays small.
    pub fn with(&self, changes: &[(Id, bool)]) -> Revocations {
        let mut changed = self.changed.clone();
        changed.extend(changes.iter().copied());
        if changed.len() <= MIN_CHANGES_KEPT_APART.max(self.base.len() / 8) {
            return Revocations {
                base: Arc::clone(&self.base),
                changed,
            };
        }
        let mut base = HashSet::clone(&self.base);
        for (id, revoked) in changed {
            if revoked {
                base.insert(id);
            } else {
                base.remove(&id);
            }
        }
        Revocations::new(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: usize) -> Vec<Id> {
        (0..count).map(|n| Id::generate(n as i64)).collect()
    }

    #[test]
    fn changes_override_the_list_in_order() {
        let ids = ids(3);
        let revocations = Revocations::new(HashSet::from([ids[0]]));
        let changed = revocations.with(&[(ids[0], false), (ids[1], true), (ids[1], false), (ids[2], true)]);
        assert!(!changed.is_revoked(&ids[0]) && !changed.is_revoked(&ids[1]) && changed.is_revoked(&ids[2]));
        assert!(revocations.is_revoked(&ids[0]), "the earlier value is unchanged");
    }

    #[test]
    fn many_changes_fold_into_the_list_and_mean_the_same() {
        let ids = ids(3 * MIN_CHANGES_KEPT_APART);
        let mut revocations = Revocations::new(ids.iter().step_by(2).copied().collect());
        for chunk in ids.chunks(100) {
            let changes: Vec<(Id, bool)> = chunk.iter().map(|id| (*id, id.as_bytes()[11] % 3 == 0)).collect();
            revocations = revocations.with(&changes);
        }
        assert!(revocations.changed.len() <= MIN_CHANGES_KEPT_APART, "folded");
        for id in &ids {
            assert_eq!(revocations.is_revoked(id), id.as_bytes()[11] % 3 == 0);
        }
    }
}
