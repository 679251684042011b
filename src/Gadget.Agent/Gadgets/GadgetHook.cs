using Gadget.Agent.Decoding;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// What a gadget does beyond what its BTF and gadget.yaml describe: parameters that need
/// interpreting (a path pattern, a list of ports), programs to load only on request, fields it
/// derives from a record (a DNS message's name and answers). Most gadgets have none; the generic
/// path loads, configures, decodes and streams every gadget alike, and calls the hook where one is.
/// </summary>
internal abstract class GadgetHook
{
    /// <summary>Sets the program's constants and chooses its programs from the agent-side parameters (gadget.yaml's params.agent), before load.</summary>
    /// <remarks>Throws <see cref="GadgetRequestException"/> for a parameter it cannot use.</remarks>
    public virtual void Configure(BpfObject bpf, TraceRequest request)
    {
    }

    /// <summary>The record hook of one trace, or null when the generic decoding is all it needs.</summary>
    public virtual RecordHook? CreateRecordHook(TraceRequest request, TraceSchema schema, BpfObject bpf) => null;
}

/// <summary>A trace's gadget-specific decoding. Runs on the ring's poll thread.</summary>
internal abstract class RecordHook
{
    /// <summary>
    /// Completes a row the generic decoder has written from <paramref name="record"/>: writes the
    /// derived fields (fixed ones into <see cref="RowWriter.Fixed"/>, then variable ones in schema
    /// order). False when a filter the kernel could not apply drops the record. Throws
    /// <see cref="MalformedRecordException"/> for a record it cannot read.
    /// </summary>
    public abstract bool Complete(ReadOnlySpan<byte> record, RowWriter row);

    /// <summary>True when the hook pairs records (a query with its response) and so must see every one, even while the queue is full.</summary>
    public virtual bool NeedsEveryRecord => false;

    /// <summary>
    /// Runs a snapshot's iterators, in order, and returns what each run wrote (whole records, at most
    /// <paramref name="maxBytes"/> in all). A hook may run them more than once (in each network
    /// namespace) and complete what the kernel cannot know.
    /// </summary>
    public virtual IEnumerable<byte[]> RunIterators(BpfObject bpf, IReadOnlyList<string> programs, int maxBytes)
        => programs.Select(program => bpf.RunIterator(program, maxBytes));

    /// <summary>Called once the object is loaded, before any record arrives.</summary>
    public virtual void OnLoaded(BpfObject bpf)
    {
    }

    /// <summary>Adds to <paramref name="due"/> the rows it makes itself that are due at <paramref name="nowBootNs"/> (CLOCK_BOOTTIME), such as an unanswered query.</summary>
    public virtual void Tick(ulong nowBootNs, List<byte[]> due)
    {
    }

    /// <summary>
    /// At the end of a trace, once nothing more is read from the kernel: adds to <paramref name="due"/>
    /// the rows now due, forgets what is settled, and says whether anything still waits. The trace
    /// calls it until it says no, at most <see cref="SettleLimit"/> long, so that what was pending when
    /// the trace ended (a query not yet answered) is reported rather than dropped.
    /// </summary>
    public virtual bool Settle(ulong nowBootNs, List<byte[]> due) => false;

    /// <summary>The longest the end of a trace waits for <see cref="Settle"/>.</summary>
    public virtual TimeSpan SettleLimit => TimeSpan.Zero;

    /// <summary>Rows it could not make because a bound was reached (counted as lost in the agent).</summary>
    public virtual long Dropped => 0;
}

/// <summary>A request the gadget cannot run as asked; the message says what to change.</summary>
internal sealed class GadgetRequestException(string errorId, string message) : Exception(message)
{
    public string ErrorId { get; } = errorId;
}
