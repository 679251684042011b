using Gadget.Protocol.V1;

namespace Gadget;

/// <summary>
/// A trace's counters from one agent. Every record the kernel produced is either delivered or in
/// exactly one of the lost, filtered or malformed counts.
/// </summary>
/// <remarks>
/// The client never drops an event: when its queue is full it stops reading the stream, gRPC flow
/// control holds the agent's writes, and the agent's own bounded queue overflows instead. That loss
/// is counted once, in <see cref="LostAgent"/>, before the events are encoded and sent for nothing,
/// and the agent's ring reader keeps draining the kernel, so the traced workload is never held up.
/// </remarks>
public sealed class TraceStatistics
{
    internal TraceStatistics(string node, TraceCounters counters)
    {
        Node = node;
        Seen = counters.Seen;
        Delivered = counters.Delivered;
        LostKernel = counters.LostKernel;
        LostAgent = counters.LostAgent;
        FilteredAgent = counters.FilteredAgent;
        Malformed = counters.Malformed;
        Synthesized = counters.Synthesized;
        Final = counters.Final;
    }

    public string Node { get; }

    /// <summary>Records the agent read from the kernel ring.</summary>
    public ulong Seen { get; }

    /// <summary>Events the agent sent to this client.</summary>
    public ulong Delivered { get; }

    /// <summary>Events the kernel dropped because the ring was full.</summary>
    public ulong LostKernel { get; }

    /// <summary>Events the agent dropped because its queue was full: this client did not keep up.</summary>
    public ulong LostAgent { get; }

    /// <summary>Records a filter in the agent dropped (filters the kernel cannot run).</summary>
    public ulong FilteredAgent { get; }

    /// <summary>Records the agent could not decode.</summary>
    public ulong Malformed { get; }

    /// <summary>Events the agent made itself (a DNS query that got no response); counted in Delivered, not in Seen.</summary>
    public ulong Synthesized { get; }

    /// <summary>All events lost anywhere on the way.</summary>
    public ulong Lost => LostKernel + LostAgent;

    /// <summary>True for the counters sent when the trace ended.</summary>
    public bool Final { get; }
}
