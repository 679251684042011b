using Gadget.Protocol.V1;

namespace Gadget.Tracing;

/// <summary>What one trace asks of the agents: the gadget, its parameters, and the filters every gadget shares.</summary>
public sealed class TraceOptions
{
    public required string Gadget { get; init; }

    /// <summary>Gadget-specific parameters (see the gadget's descriptor).</summary>
    public IDictionary<string, string> Parameters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Stop after this long; null runs until cancelled.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop after this many events; null for no limit.</summary>
    public ulong? MaxEvents { get; init; }

    /// <summary>A top gadget's window; null: the agent's default (one second).</summary>
    public TimeSpan? Interval { get; init; }

    /// <summary>A top gadget: stop after this many windows; null until the duration ends or the caller stops.</summary>
    public ulong? MaxWindows { get; init; }

    /// <summary>Only these processes (any of them); null or empty for all.</summary>
    public IReadOnlyList<int>? Pids { get; init; }

    public uint? Uid { get; init; }

    public string? Comm { get; init; }

    /// <summary>Which containers, and whether the host; null for the host and every container.</summary>
    public ContainerSelection? Containers { get; init; }

    /// <summary>A user's own program to run instead of the gadget <see cref="Gadget"/> names; null for a built-in gadget.</summary>
    public GadgetProgramFile? Program { get; init; }

    /// <summary>Bound of the client's queue, in events. When it is full the stream waits, and the agent counts what it cannot queue.</summary>
    public int QueueCapacity { get; init; } = 8 * 1024;

    internal TraceRequest ToRequest()
    {
        var request = new TraceRequest
        {
            Gadget = Gadget,
            ProtocolVersion = TraceReplyDecoder.ProtocolVersion,
            DurationMs = Duration is { } duration ? (ulong)Math.Ceiling(duration.TotalMilliseconds) : 0,
            MaxEvents = MaxEvents ?? 0,
            IntervalMs = Interval is { } interval ? (ulong)Math.Ceiling(interval.TotalMilliseconds) : 0,
            MaxWindows = MaxWindows ?? 0,
            Filter = new ProcessFilter { Comm = Comm ?? string.Empty },
        };
        uint[] pids = [.. (Pids ?? []).Where(p => p > 0).Select(p => (uint)p).Distinct()];
        if (pids.Length == 1)
        {
            request.Filter.Pid = pids[0]; // what an agent that knows one pid reads
        }
        else
        {
            request.Filter.Pids.Add(pids);
        }

        if (Uid is uint uid)
        {
            request.Filter.Uid = uid;
        }

        if (Containers is not null)
        {
            request.Selector = Containers.ToSelector();
        }

        if (Program is not null)
        {
            request.Program = new GadgetProgram
            {
                Object = Google.Protobuf.ByteString.CopyFrom(Program.Object),
                Metadata = Program.Metadata ?? string.Empty,
                Name = Program.Name,
            };
        }

        foreach ((string name, string value) in Parameters)
        {
            request.Parameters[name] = value;
        }

        return request;
    }
}
