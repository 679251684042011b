namespace Gadget.Tracing;

/// <summary>
/// Puts the windows of a top back together across nodes: a window is complete once every node
/// still running has sent it (or has ended); its rows from all nodes are then sorted together by
/// the main figure, largest first, and cut to the first <c>top</c> rows. Windows come out in index
/// order. A node that fails or ends no longer holds the others' windows back.
/// </summary>
public sealed class TopWindowMerger
{
    private readonly int _top;
    private readonly HashSet<string> _running;
    private readonly SortedDictionary<ulong, List<TopWindowRows>> _pending = [];

    /// <param name="nodes">The nodes the top runs on.</param>
    /// <param name="top">Rows kept per window; 0 keeps them all.</param>
    public TopWindowMerger(IEnumerable<string> nodes, int top)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        _running = new HashSet<string>(nodes, StringComparer.Ordinal);
        _top = top;
    }

    /// <summary>One node's window on its own, every row, largest main figure first.</summary>
    public static IReadOnlyList<(GadgetEvent Row, TopWindowRows Window)> Sorted(TopWindowRows window)
        => new TopWindowMerger([window.Node], top: 0).Add(window).Single().Rows;

    /// <summary>Adds one node's window; returns the windows it completes (perhaps none), merged, in order.</summary>
    public IReadOnlyList<MergedTopWindow> Add(TopWindowRows window)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (!_pending.TryGetValue(window.Index, out List<TopWindowRows>? parts))
        {
            parts = [];
            _pending.Add(window.Index, parts);
        }

        parts.Add(window);
        _running.Add(window.Node);
        return Release(all: false);
    }

    /// <summary>A node failed or its stream ended: its windows are no longer waited for.</summary>
    public IReadOnlyList<MergedTopWindow> NodeEnded(string node)
    {
        _running.Remove(node);
        return Release(all: false);
    }

    /// <summary>Every window still waiting, as it is (the top has ended).</summary>
    public IReadOnlyList<MergedTopWindow> Flush() => Release(all: true);

    private List<MergedTopWindow> Release(bool all)
    {
        var released = new List<MergedTopWindow>();
        while (_pending.Count > 0)
        {
            (ulong index, List<TopWindowRows> parts) = _pending.First();
            if (!all && !_running.All(node => parts.Any(p => p.Node == node)))
            {
                break;
            }

            _pending.Remove(index);
            released.Add(Merge(index, parts));
        }

        return released;
    }

    private MergedTopWindow Merge(ulong index, List<TopWindowRows> parts)
    {
        var rows = new List<(GadgetEvent Row, Int128 Value, TopWindowRows Window)>();
        foreach (TopWindowRows part in parts.OrderBy(p => p.Node, StringComparer.Ordinal))
        {
            for (int i = 0; i < part.Rows.Count; i++)
            {
                rows.Add((part.Rows[i], part.SortValues[i], part));
            }
        }

        // Stable: rows with the same figure keep their node's order and, within it, the kernel's.
        IEnumerable<(GadgetEvent Row, Int128 Value, TopWindowRows Window)> sorted = rows.OrderByDescending(r => r.Value);
        if (_top > 0)
        {
            sorted = sorted.Take(_top);
        }

        return new MergedTopWindow(index, [.. sorted.Select(r => (r.Row, r.Window))], rows.Count);
    }
}

/// <summary>One window of a top across its nodes: its rows, sorted and cut, each with the node's window it came in.</summary>
/// <param name="Index">The window's index.</param>
/// <param name="Rows">The rows kept, largest main figure first.</param>
/// <param name="TotalRows">Rows the nodes sent for the window, before the cut.</param>
public sealed record MergedTopWindow(ulong Index, IReadOnlyList<(GadgetEvent Row, TopWindowRows Window)> Rows, int TotalRows);
