using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// One gadget as the agent carries it: where its compiled object is, what the object's BTF says it
/// produces, its gadget.yaml, and its hook when it has one. Everything a trace does with it
/// (configure, load, attach, decode, stream) is generic; see <see cref="Runtime.TraceRun"/>.
/// </summary>
/// <remarks>
/// It keeps what it read from the object, not the object: the ELF and its parsed BTF (a few MiB for
/// the catalog) are read again by each trace that loads it, so an idle agent does not hold them.
/// </remarks>
internal sealed class GadgetDefinition
{
    private readonly Func<byte[]> _readProgram;

    public GadgetDefinition(string name, Func<byte[]> readProgram, GadgetMetadata metadata, GadgetHook? hook)
    {
        Name = name;
        _readProgram = readProgram;
        Metadata = metadata;
        Hook = hook;
        GadgetObjectInfo info = ReadObjectInfo();
        if (info.Tracers.Count == 0 && info.MapIterators.Count == 1)
        {
            // A top: its rows are the map's entries, read as records of key and value.
            Top = info.MapIterators[0];
        }

        Tracer = Top is not null ? new TracerInfo(Top.Name, Top.MapName, Top.Record) : info.Tracers.Count switch
        {
            1 => info.Tracers[0],
            0 => throw new GadgetObjectException($"Gadget '{name}' declares no tracer (GADGET_TRACER)."),
            _ => throw new GadgetObjectException($"Gadget '{name}' declares {info.Tracers.Count} tracers; one object carries one."),
        };
        Schema = TraceSchema.Build(name, Tracer.Event, metadata);
        Parameters = GadgetParameters.Describe(info, metadata);
    }

    /// <summary>The name clients ask for (<c>exec</c>).</summary>
    public string Name { get; }

    public string Description => Metadata.Description;

    /// <summary>A gadget for benchmarks and diagnostics (flood), left out of completion.</summary>
    public bool Diagnostic => Metadata.Diagnostic;

    /// <summary>The compiled object (ELF), read anew.</summary>
    public byte[] Program => _readProgram();

    public GadgetMetadata Metadata { get; }

    /// <summary>
    /// What the rows are made of: a tracer's ring and event struct, or for a top the map it drains
    /// and its entries (key, then value).
    /// </summary>
    public TracerInfo Tracer { get; }

    /// <summary>The hash map a top gadget reads and empties every interval; null for a trace.</summary>
    public MapIteratorInfo? Top { get; }

    /// <summary>What the trace's rows hold.</summary>
    public TraceSchema Schema { get; }

    public GadgetHook? Hook { get; }

    /// <summary>The parameters a request may set, by key.</summary>
    public IReadOnlyList<GadgetParameter> Parameters { get; }

    /// <summary>What the object declares, parsed anew from its ELF and BTF.</summary>
    public GadgetObjectInfo ReadObjectInfo() => GadgetObjectReader.Read(Program);
}
