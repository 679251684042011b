using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// What makes a gadget: its BPF object, how a request configures it, which programs run, and how a
/// ring record becomes an <see cref="Event"/>. Everything else (loading, reading, batching,
/// counting, streaming) is shared by all gadgets in <see cref="Runtime.TraceRun"/>.
/// </summary>
internal abstract class GadgetDefinition
{
    /// <summary>The name clients ask for (<c>exec</c>).</summary>
    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary>The embedded object, <c>bpf/&lt;name&gt;.bpf.o</c> by default.</summary>
    public virtual string ObjectResource => $"bpf/{Name}.bpf.o";

    /// <summary>Gadget-specific request parameters by name, with a line of help each.</summary>
    public virtual IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>();

    /// <summary>
    /// Sets constants and chooses programs before load, and says how each chosen program attaches
    /// (a program name alone: to the hook its section names). Throws
    /// <see cref="GadgetRequestException"/> on bad input.
    /// </summary>
    public abstract IReadOnlyList<ProgramAttachment> Configure(BpfObject bpf, TraceRequest request);

    /// <summary>Makes the decoder for one trace, which makes its events with <paramref name="events"/>.</summary>
    public abstract IRecordDecoder CreateDecoder(TraceRequest request, EventFactory events);
}

/// <summary>Turns one ring record into an event. Runs on the ring's poll thread.</summary>
internal interface IRecordDecoder
{
    /// <summary>
    /// Decodes <paramref name="record"/>. Returns null when a filter that could not run in the
    /// kernel drops it. Throws <see cref="MalformedRecordException"/> for a record it cannot read.
    /// </summary>
    Event? Decode(ReadOnlySpan<byte> record);
}

/// <summary>
/// A decoder that also makes events of its own as time passes, such as a DNS query that got no
/// response in time. Runs on the ring's poll thread, after every drain.
/// </summary>
internal interface ITimedRecordDecoder : IRecordDecoder
{
    /// <summary>Adds to <paramref name="due"/> the events that are due at <paramref name="nowBootNs"/> (CLOCK_BOOTTIME).</summary>
    void Tick(ulong nowBootNs, ICollection<Event> due);

    /// <summary>Events it could not make because a bound was reached (counted as lost in the agent).</summary>
    long Dropped { get; }
}

/// <summary>A decoder that needs the loaded object (to read its maps).</summary>
internal interface IObjectAwareDecoder
{
    /// <summary>Called once the object is loaded, before any record arrives.</summary>
    void OnLoaded(BpfObject bpf);
}

/// <summary>A request the gadget cannot run as asked; the message says what to change.</summary>
internal sealed class GadgetRequestException(string errorId, string message) : Exception(message)
{
    public string ErrorId { get; } = errorId;
}

/// <summary>A ring record shorter than its struct or otherwise unreadable.</summary>
internal sealed class MalformedRecordException(string message) : Exception(message);
