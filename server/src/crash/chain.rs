//! Exception chains as parsers read them (each exception with the one it hangs off, frames in
//! printed order) turned into the model's order: root cause first, outermost last, frames oldest
//! first. Shared by the text formats that print chains (JVM, JavaScript, .NET).

use super::{Exception, ExceptionLink, LinkKind};

/// Exceptions as they are read, each with the exception it hangs off. Frames stay in printed order
/// (newest first) until [`ExceptionTree::into_root_cause_first`].
#[derive(Default)]
pub struct ExceptionTree {
    pub nodes: Vec<Exception>,
    pub parents: Vec<Option<(usize, LinkKind)>>,
}

impl ExceptionTree {
    pub fn push(&mut self, exception: Exception, parent: Option<(usize, LinkKind)>) -> usize {
        self.nodes.push(exception);
        self.parents.push(parent);
        self.nodes.len() - 1
    }

    /// Root cause first, the outermost exception (`root`) last: every exception comes after the
    /// exceptions hanging off it; causes and inner exceptions before group members, those before
    /// suppressed ones. Iterative, so a chain of any depth is fine.
    pub fn into_root_cause_first(self, root: usize) -> Vec<Exception> {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (child, parent) in self.parents.iter().enumerate() {
            if let Some((parent, _)) = parent
                && let Some(list) = children.get_mut(*parent)
            {
                list.push(child);
            }
        }
        let rank = |node: usize| match self.parents.get(node).copied().flatten().map(|(_, kind)| kind) {
            Some(LinkKind::Cause | LinkKind::Context | LinkKind::Inner) | None => 0,
            Some(LinkKind::GroupMember) => 1,
            Some(LinkKind::Suppressed) => 2,
        };
        for list in &mut children {
            list.sort_by_key(|&c| rank(c));
        }

        // Post-order walk with an explicit stack; `visited` guards against cycles in bad input.
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut visited = vec![false; self.nodes.len()];
        let mut stack = vec![(root, 0usize)];
        if root >= self.nodes.len() {
            return Vec::new();
        }
        visited[root] = true;
        while let Some((node, next)) = stack.pop() {
            match children[node].get(next).copied() {
                Some(child) => {
                    stack.push((node, next + 1));
                    if !visited[child] {
                        visited[child] = true;
                        stack.push((child, 0));
                    }
                }
                None => order.push(node),
            }
        }

        let mut position = vec![0; self.nodes.len()];
        for (pos, &node) in order.iter().enumerate() {
            position[node] = pos;
        }
        let mut slots: Vec<Option<Exception>> = self.nodes.into_iter().map(Some).collect();
        order
            .iter()
            .filter_map(|&node| {
                let mut exception = slots.get_mut(node)?.take()?;
                exception.frames.reverse();
                exception.link =
                    self.parents.get(node).copied().flatten().map(|(parent, kind)| ExceptionLink {
                        parent: position.get(parent).copied().unwrap_or(0),
                        kind,
                    });
                Some(exception)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ty: &str) -> Exception {
        Exception { ty: ty.into(), ..Exception::default() }
    }

    #[test]
    fn causes_come_before_what_they_caused() {
        let mut tree = ExceptionTree::default();
        let outer = tree.push(named("Outer"), None);
        let suppressed = tree.push(named("Suppressed"), Some((outer, LinkKind::Suppressed)));
        let cause = tree.push(named("Cause"), Some((outer, LinkKind::Cause)));
        let root = tree.push(named("Root"), Some((cause, LinkKind::Cause)));
        let _ = (suppressed, root);
        let chain = tree.into_root_cause_first(outer);
        let types: Vec<&str> = chain.iter().map(|e| e.ty.as_str()).collect();
        assert_eq!(types, ["Root", "Cause", "Suppressed", "Outer"]);
        assert_eq!(chain[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
        assert_eq!(chain[2].link, Some(ExceptionLink { parent: 3, kind: LinkKind::Suppressed }));
        assert_eq!(chain[3].link, None);
    }

    #[test]
    fn a_very_deep_chain_does_not_overflow_the_stack() {
        let mut tree = ExceptionTree::default();
        let mut parent = tree.push(named("E0"), None);
        for i in 1..200_000 {
            parent = tree.push(named(&format!("E{i}")), Some((parent, LinkKind::Cause)));
        }
        assert_eq!(tree.into_root_cause_first(0).len(), 200_000);
    }
}
