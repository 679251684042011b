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
/// A gadget is a tracer (records stream from a ring buffer until the trace ends) or a snapshot
/// (iterator programs run once; their records are the whole answer); an object declares one of them.
/// </remarks>
internal sealed class GadgetDefinition
{
    private readonly Func<byte[]> _readProgram;
    private readonly TracerInfo? _tracer;

    public GadgetDefinition(string name, Func<byte[]> readProgram, GadgetMetadata metadata, GadgetHook? hook, bool isUserProgram = false)
    {
        Name = name;
        _readProgram = readProgram;
        Metadata = metadata;
        Hook = hook;
        IsUserProgram = isUserProgram;
        GadgetObjectInfo info = ReadObjectInfo();
        string what = isUserProgram ? $"The program '{name}'" : $"Gadget '{name}'";
        int shapes = info.Tracers.Count + info.Snapshots.Count + info.MapIterators.Count;
        if (shapes > 1)
        {
            string declared = string.Join(", ", info.Tracers.Select(t => $"tracer {t.Name}")
                .Concat(info.Snapshots.Select(s => $"snapshot {s.Name}"))
                .Concat(info.MapIterators.Select(m => $"map iterator {m.Name}")));
            throw new GadgetObjectException($"{what} declares {shapes} outputs ({declared}); one object carries one tracer, one snapshot or one map iterator.");
        }

        if (info.Tracers.Count == 1)
        {
            _tracer = info.Tracers[0];
            Record = _tracer.Event;
            if (isUserProgram && !info.Maps.Contains(_tracer.MapName))
            {
                throw new GadgetObjectException($"{what}'s tracer '{_tracer.Name}' names ring buffer '{_tracer.MapName}', which the object does not declare in .maps.");
            }
        }
        else if (info.Snapshots.Count == 1)
        {
            Snapshot = info.Snapshots[0];
            Record = Snapshot.Record;
        }
        else if (info.MapIterators.Count == 1 && isUserProgram)
        {
            // The client's window merge and sort are built for the catalog's tops, which name their main figure.
            throw new GadgetObjectException($"{what} declares map iterator '{info.MapIterators[0].Name}' (top-style); users' programs may be tracers or snapshots, and map iterators are not supported for them yet.");
        }
        else if (info.MapIterators.Count == 1)
        {
            // A top: its rows are the map's entries, read as records of key and value.
            Top = info.MapIterators[0];
            _tracer = new TracerInfo(Top.Name, Top.MapName, Top.Record);
            Record = Top.Record;
        }
        else
        {
            throw new GadgetObjectException(
                $"{what} declares no output: it needs a GADGET_TRACER(name, map, struct) marker (gadget_tracer_<name>___<map>___<struct>), " +
                "a GADGET_SNAPSHOT(name, struct, program…) marker (gadget_iter_<name>___<struct>___<program>) " +
                "or a GADGET_MAPITER(name, map) marker (gadget_mapiter_<name>___<map>) in its BTF.");
        }

        // A user's gadget.yaml cannot name a client type: its records are always the program's own.
        TraceSchema schema = TraceSchema.Build(name, Record, metadata);
        Schema = isUserProgram ? new TraceSchema(schema.Gadget, typeName: null, schema.Description, schema.Fields, schema.FixedSize) : schema;
        Parameters = GadgetParameters.Describe(info, metadata, includeAgentParameters: !isUserProgram);
        Constants = info.ReadOnlyVariables.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        Maps = info.Maps;
    }

    /// <summary>The name clients ask for (<c>exec</c>).</summary>
    public string Name { get; }

    public string Description => Metadata.Description;

    /// <summary>A gadget for benchmarks and diagnostics (flood), left out of completion.</summary>
    public bool Diagnostic => Metadata.Diagnostic;

    /// <summary>A program a user sent with the request, not one of the agent's own.</summary>
    public bool IsUserProgram { get; }

    /// <summary>The compiled object (ELF), read anew.</summary>
    public byte[] Program => _readProgram();

    public GadgetMetadata Metadata { get; }

    /// <summary>
    /// What the rows come from (see <see cref="IsSnapshot"/> first): a tracer's ring and event struct,
    /// or for a top the map it drains and its entries (key, then value).
    /// </summary>
    public TracerInfo Tracer => _tracer ?? throw new InvalidOperationException($"'{Name}' is a snapshot, not a tracer.");

    /// <summary>True for a snapshot (iterators run once), false for a tracer.</summary>
    public bool IsSnapshot => Snapshot is not null;

    /// <summary>The snapshot, or null for a tracer.</summary>
    public SnapshotInfo? Snapshot { get; }

    /// <summary>The struct each record is.</summary>
    public EventSchema Record { get; }

    /// <summary>The hash map a top gadget reads and empties every interval; null for a trace.</summary>
    public MapIteratorInfo? Top { get; }

    /// <summary>What the trace's rows hold.</summary>
    public TraceSchema Schema { get; }

    public GadgetHook? Hook { get; }

    /// <summary>The parameters a request may set, by key.</summary>
    public IReadOnlyList<GadgetParameter> Parameters { get; }

    /// <summary>The names of the object's .rodata variables (the constants a host may set).</summary>
    public IReadOnlySet<string> Constants { get; }

    /// <summary>The names of the object's maps.</summary>
    public IReadOnlyList<string> Maps { get; }

    /// <summary>What the object declares, parsed anew from its ELF and BTF.</summary>
    public GadgetObjectInfo ReadObjectInfo() => GadgetObjectReader.Read(Program);
}
