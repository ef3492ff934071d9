//! The functional core of the executor: which nodes a run executes and which can run next.
//! No I/O and no time here; the executor feeds it completions and asks what is ready.

use crate::region::{DONE, Region};
use std::collections::{BTreeSet, VecDeque};
use switchyard_model::workflow::Workflow;

/// One source feeding a node input: a node index and one of its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub node: usize,
    pub output: String,
}

/// The wiring of a run, resolved to indexes into `workflow.nodes`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Nodes that take part in this run.
    pub in_run: Vec<bool>,
    /// Per node, per input (in the descriptor's order): the sources, in connection order.
    pub inputs: Vec<Vec<Vec<Source>>>,
    /// Per node and output name: how many (node, input) edges in the run consume it.
    pub consumers: Vec<Vec<(String, usize)>>,
    /// Per node: the nodes in the run that must finish before it.
    pub upstream: Vec<BTreeSet<usize>>,
    /// Per node: the nodes in the run that wait for it.
    pub downstream: Vec<BTreeSet<usize>>,
    /// The nodes of the run in a valid order (by topological order, ties by file order).
    pub order: Vec<usize>,
    /// Per node: the Parallel node and branch output of the branch it belongs to.
    pub region: Vec<Option<(usize, String)>>,
    /// Per Parallel node in the run: its branches (output name, the branch's nodes).
    pub branches: std::collections::HashMap<usize, Vec<(String, Vec<usize>)>>,
}

impl Plan {
    /// Plans a run of `workflow` starting at `starts` and, when `until` is given, stopping
    /// after that node (only its ancestors run). `input_names[i]` lists node i's inputs and
    /// `regions[i]` node i's regions if it is a region node. The workflow must be valid (no
    /// cycles, connections resolve).
    pub fn new(
        workflow: &Workflow,
        input_names: &[Vec<String>],
        regions: &[Option<Region>],
        starts: &[usize],
        until: Option<usize>,
    ) -> Plan {
        let n = workflow.nodes.len();
        let index_of = |id: &str| workflow.nodes.iter().position(|node| node.id == id);
        let mut edges = Vec::new();
        for c in &workflow.connections {
            if let (Some(from), Some(to)) = (index_of(&c.from.node), index_of(&c.to.node)) {
                edges.push((from, c.from.output.clone(), to, c.to.input.clone()));
            }
        }

        let mut reachable = vec![false; n];
        let mut queue: VecDeque<usize> = starts.iter().copied().collect();
        for &s in starts {
            reachable[s] = true;
        }
        while let Some(i) = queue.pop_front() {
            for (from, _, to, _) in &edges {
                if *from == i && !reachable[*to] {
                    reachable[*to] = true;
                    queue.push_back(*to);
                }
            }
        }
        let mut in_run = reachable;
        if let Some(target) = until {
            let mut ancestors = vec![false; n];
            ancestors[target] = true;
            let mut queue = VecDeque::from([target]);
            while let Some(i) = queue.pop_front() {
                for (from, _, to, _) in &edges {
                    if *to == i && !ancestors[*from] {
                        ancestors[*from] = true;
                        queue.push_back(*from);
                    }
                }
            }
            for i in 0..n {
                in_run[i] = in_run[i] && ancestors[i];
            }
        }

        let mut inputs: Vec<Vec<Vec<Source>>> = input_names.iter().map(|names| vec![Vec::new(); names.len()]).collect();
        let mut consumers: Vec<Vec<(String, usize)>> = vec![Vec::new(); n];
        let mut upstream = vec![BTreeSet::new(); n];
        let mut downstream = vec![BTreeSet::new(); n];
        for (from, output, to, input) in &edges {
            if !(in_run[*from] && in_run[*to]) {
                continue;
            }
            let Some(slot) = input_names[*to].iter().position(|name| name == input) else { continue };
            inputs[*to][slot].push(Source { node: *from, output: output.clone() });
            match consumers[*from].iter_mut().find(|(name, _)| name == output) {
                Some((_, count)) => *count += 1,
                None => consumers[*from].push((output.clone(), 1)),
            }
            upstream[*to].insert(*from);
            downstream[*from].insert(*to);
        }

        // Parallel branches: everything reachable from a branch output is that branch's
        // region. Nodes after "done" wait for every node of every branch (validation keeps
        // branches from connecting anywhere else).
        let mut region: Vec<Option<(usize, String)>> = vec![None; n];
        let mut branches = std::collections::HashMap::new();
        for p in (0..n).filter(|&i| in_run[i]) {
            let Some(outputs) = regions.get(p).and_then(Option::as_ref).map(Region::outputs) else { continue };
            let mut list = Vec::new();
            for name in outputs {
                let mut members = Vec::new();
                let mut queue: VecDeque<usize> = edges
                    .iter()
                    .filter(|(from, output, to, _)| *from == p && *output == name && in_run[*to])
                    .map(|(_, _, to, _)| *to)
                    .collect();
                while let Some(i) = queue.pop_front() {
                    if region[i].is_some() || i == p {
                        continue;
                    }
                    region[i] = Some((p, name.clone()));
                    members.push(i);
                    for (from, _, to, _) in &edges {
                        if *from == i && in_run[*to] && region[*to].is_none() {
                            queue.push_back(*to);
                        }
                    }
                }
                members.sort_unstable();
                list.push((name, members));
            }
            let after: Vec<usize> = edges
                .iter()
                .filter(|(from, output, to, _)| *from == p && output == DONE && in_run[*to])
                .map(|(_, _, to, _)| *to)
                .collect();
            for (_, members) in &list {
                for &m in members {
                    for &d in &after {
                        upstream[d].insert(m);
                        downstream[m].insert(d);
                    }
                }
            }
            branches.insert(p, list);
        }

        // Kahn's algorithm, always taking the lowest file index that is ready.
        let mut pending: Vec<usize> = upstream.iter().map(BTreeSet::len).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| in_run[i] && pending[i] == 0).collect();
        let mut order = Vec::new();
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &downstream[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        Plan { in_run, inputs, consumers, upstream, downstream, order, region, branches }
    }

    /// Nodes in the run that nothing in the run consumes: their output is the run's result.
    /// Branch nodes hand their items to their Parallel (or Batch) node instead, whose "done" output is a
    /// result when nothing consumes it.
    pub fn leaves(&self) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&i| {
                self.region[i].is_none()
                    && (self.downstream[i].is_empty()
                        || (self.branches.contains_key(&i) && self.consumer_count(i, DONE) == 0))
            })
            .collect()
    }

    /// The last nodes of a branch: branch members no other member consumes.
    pub fn branch_sinks(&self, members: &[usize]) -> Vec<usize> {
        members.iter().copied().filter(|&m| !self.downstream[m].iter().any(|d| members.contains(d))).collect()
    }

    /// How many in-run edges consume `output` of `node`.
    pub fn consumer_count(&self, node: usize, output: &str) -> usize {
        self.consumers[node].iter().find(|(name, _)| name == output).map_or(0, |(_, c)| *c)
    }
}

/// Tracks progress through a plan: a node is ready once all its upstream nodes finished.
#[derive(Debug, Clone)]
pub struct Schedule {
    pending: Vec<usize>,
    ready: VecDeque<usize>,
    finished: Vec<bool>,
    downstream: Vec<BTreeSet<usize>>,
    remaining: usize,
}

impl Schedule {
    pub fn new(plan: &Plan) -> Schedule {
        let pending: Vec<usize> = plan.upstream.iter().map(BTreeSet::len).collect();
        let ready = plan.order.iter().copied().filter(|&i| pending[i] == 0).collect();
        Schedule {
            pending,
            ready,
            finished: vec![false; plan.in_run.len()],
            downstream: plan.downstream.clone(),
            remaining: plan.order.len(),
        }
    }

    /// The next node that can start, if any. Nodes already marked finished (a cancelled
    /// branch's) are passed over.
    pub fn next_ready(&mut self) -> Option<usize> {
        while let Some(i) = self.ready.pop_front() {
            if !self.finished[i] {
                return Some(i);
            }
        }
        None
    }

    pub fn is_finished(&self, node: usize) -> bool {
        self.finished[node]
    }

    /// Makes `nodes` (a Batch node's loop) runnable again: they and what waits for them count
    /// as unfinished, and those whose inputs are ready are queued.
    pub fn reset(&mut self, nodes: &[usize], upstream: &[BTreeSet<usize>]) {
        for &m in nodes {
            if std::mem::replace(&mut self.finished[m], false) {
                self.remaining += 1;
            }
        }
        let mut affected: BTreeSet<usize> = nodes.iter().copied().collect();
        for &m in nodes {
            affected.extend(self.downstream[m].iter().copied().filter(|d| !self.finished[*d]));
        }
        for &a in &affected {
            self.pending[a] = upstream[a].iter().filter(|u| !self.finished[**u]).count();
        }
        let (pending, finished) = (&self.pending, &self.finished);
        self.ready.retain(|&r| pending[r] == 0 && !finished[r]);
        for &m in nodes {
            if self.pending[m] == 0 && !self.ready.contains(&m) {
                self.ready.push_back(m);
            }
        }
    }

    /// Records that `node` finished; its downstream nodes may become ready.
    pub fn finish(&mut self, node: usize) {
        if std::mem::replace(&mut self.finished[node], true) {
            return;
        }
        self.remaining -= 1;
        for &d in &self.downstream[node] {
            self.pending[d] -= 1;
            if self.pending[d] == 0 {
                self.ready.push_back(d);
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::workflow::{Connection, Node};

    fn wf(nodes: &[&str], edges: &[(&str, &str, &str, &str)]) -> Workflow {
        let mut w = Workflow::new("t");
        w.nodes = nodes.iter().map(|n| Node::new(*n, *n, "x")).collect();
        w.connections = edges.iter().map(|(f, o, t, i)| Connection::new(f, o, t, i)).collect();
        w
    }

    #[test]
    fn diamond_runs_branches_after_their_source() {
        let w = wf(
            &["t", "a", "b", "m", "other"],
            &[
                ("t", "main", "a", "main"),
                ("t", "main", "b", "main"),
                ("a", "main", "m", "main"),
                ("b", "main", "m", "second"),
            ],
        );
        let names = vec![
            vec![],
            vec!["main".into()],
            vec!["main".into()],
            vec!["main".into(), "second".into()],
            vec!["main".into()],
        ];
        let plan = Plan::new(&w, &names, &[], &[0], None);
        assert_eq!(plan.order, vec![0, 1, 2, 3]);
        assert!(!plan.in_run[4]);
        assert_eq!(plan.consumer_count(0, "main"), 2);
        assert_eq!(plan.leaves(), vec![3]);
        let mut s = Schedule::new(&plan);
        assert_eq!(s.next_ready(), Some(0));
        assert_eq!(s.next_ready(), None);
        s.finish(0);
        assert_eq!((s.next_ready(), s.next_ready()), (Some(1), Some(2)));
        s.finish(1);
        assert_eq!(s.next_ready(), None, "the merge waits for both inputs");
        s.finish(2);
        assert_eq!(s.next_ready(), Some(3));
        s.finish(3);
        assert!(s.is_done());
    }

    #[test]
    fn until_keeps_only_ancestors() {
        let w = wf(&["t", "a", "b"], &[("t", "main", "a", "main"), ("a", "main", "b", "main")]);
        let names = vec![vec![], vec!["main".into()], vec!["main".into()]];
        let plan = Plan::new(&w, &names, &[], &[0], Some(1));
        assert_eq!(plan.order, vec![0, 1]);
        assert_eq!(plan.leaves(), vec![1]);
    }
}
