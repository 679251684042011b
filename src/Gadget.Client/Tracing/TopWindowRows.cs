namespace Gadget.Tracing;

/// <summary>
/// Every row one agent sent for one window of a top gadget, in the kernel's order, with the
/// value of the top's main figure for each (what the rows are sorted by).
/// </summary>
public sealed class TopWindowRows
{
    internal TopWindowRows(string node, ulong index, DateTime start, DateTime end, GadgetEvent[] rows, Int128[] sortValues)
    {
        Node = node;
        Index = index;
        Start = start;
        End = end;
        Rows = rows;
        SortValues = sortValues;
    }

    public string Node { get; }

    /// <summary>1 for the first window of a run, then 2, 3 …: the same on every node.</summary>
    public ulong Index { get; }

    /// <summary>When the window began (UTC).</summary>
    public DateTime Start { get; }

    /// <summary>When the window ended and its counts were read (UTC).</summary>
    public DateTime End { get; }

    public IReadOnlyList<GadgetEvent> Rows { get; }

    /// <summary>The main figure of each row (by position in <see cref="Rows"/>); all zero when the top has none.</summary>
    internal Int128[] SortValues { get; }
}
