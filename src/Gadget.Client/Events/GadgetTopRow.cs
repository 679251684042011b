namespace Gadget;

/// <summary>
/// A row of a top gadget: what the kernel counted for one key (a process on a device, a file …)
/// during one window, with the window's start and end. The fields every event has (process, pod,
/// container) come from the key; <see cref="GadgetEvent.Timestamp"/> is the window's end.
/// </summary>
public abstract class GadgetTopRow : GadgetEvent
{
    private protected GadgetTopRow(in Tracing.EventRow row, EventOrigin origin)
        : base(row, origin)
    {
    }

    /// <summary>When the window began (UTC, as the agent's clock tells it).</summary>
    public DateTime IntervalStart { get; private set; }

    /// <summary>When the window ended and its counts were read (UTC).</summary>
    public DateTime IntervalEnd { get; private set; }

    internal void SetWindow(DateTime start, DateTime end)
    {
        IntervalStart = start;
        IntervalEnd = end;
        Timestamp = end;
    }
}
