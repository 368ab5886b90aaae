import Foundation

/// Lets the forwards of an input already seen start from a value its earlier forward kept,
/// when the parameters that changed since then all come after that value: the cascading
/// randomisation of a sanity check changes the network from the top down, so each of its
/// steps needs to run only the part of the network from the highest block boundary below the
/// modules it changed.
///
/// The values kept are the graph's cuts (`Graph.cuts`: block outputs, from which a pass
/// computes everything after them). Whoever changes parameters while the reuse is active says so with
/// `markChanged(node:)`; a kept value is used only when no node before it changed after it
/// was kept. Held by the network only inside `Network.reusingForwards(_:)`.
final class ForwardReuse {
    /// The values kept from one input's forward.
    private struct Entry {
        let input: Tensor
        /// The change count when they were kept.
        let sequence: Int
        let values: [Int: Tensor]
    }

    private let graph: Graph
    private var entries: [Entry] = []
    /// The nodes changed, with the change count after each.
    private var changes: [(node: Int, sequence: Int)] = []
    private var sequence = 0
    /// The positions the forwards started from, in order (0 for a whole pass), for tests.
    private(set) var starts: [Int] = []
    /// How many inputs are remembered (aug_smooth's six passes fit).
    static let capacity = 8

    init(graph: Graph) {
        self.graph = graph
    }

    /// The cut values (`Graph.cutValues`).
    var cutValues: Set<Int> { graph.cutValues }

    /// Records that the parameters of node `node` changed: values kept before it are stale.
    func markChanged(node: Int) {
        sequence += 1
        changes.append((node, sequence))
    }

    /// The kept value a forward of `input` can start from, the latest whose position is at most
    /// `limit` (the earliest node the pass must run itself), or nil.
    func start(for input: Tensor, limit: Int) -> (value: Int, tensor: Tensor)? {
        guard let entry = entries.last(where: { $0.input == input }) else {
            starts.append(0)
            return nil
        }
        let stale = changes.filter { $0.sequence > entry.sequence }.map(\.node).min() ?? graph.nodes.count
        let bound = min(limit, stale)
        guard let cut = graph.cuts.last(where: { $0.position <= bound }), let tensor = entry.values[cut.value] else {
            starts.append(0)
            return nil
        }
        starts.append(cut.position)
        return (cut.value, tensor)
    }

    /// Keeps the cut values of a full forward of `input` (replacing what was kept for it).
    func remember(_ input: Tensor, recorded: [Int: Tensor]) {
        entries.removeAll { $0.input == input }
        if entries.count >= Self.capacity { entries.removeFirst() }
        entries.append(Entry(input: input, sequence: sequence, values: recorded.filter { cutValues.contains($0.key) }))
    }
}
