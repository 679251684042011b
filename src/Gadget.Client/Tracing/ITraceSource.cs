namespace Gadget.Tracing;

/// <summary>What a cmdlet drains on its pipeline thread: one agent's trace, or many merged.</summary>
public interface ITraceSource : IDisposable
{
    /// <summary>Where the trace runs, for errors: the agent's socket or address, or a cluster trace's nodes.</summary>
    string Target { get; }

    /// <summary>The latest counters, one per node.</summary>
    IEnumerable<TraceStatistics> Statistics { get; }

    /// <summary>True once every stream has ended and everything was taken.</summary>
    bool IsCompleted { get; }

    /// <summary>Waits up to <paramref name="timeout"/> for the next item; false on timeout or at the end.</summary>
    bool TryTake(out object? item, TimeSpan timeout, CancellationToken token);
}
