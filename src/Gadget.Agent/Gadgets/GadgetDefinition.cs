using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// One gadget as the agent carries it: its compiled object, what the object's BTF says it produces,
/// its gadget.yaml, and its hook when it has one. Everything a trace does with it (configure, load,
/// attach, decode, stream) is generic; see <see cref="Runtime.TraceRun"/>.
/// </summary>
internal sealed class GadgetDefinition
{
    public GadgetDefinition(string name, byte[] program, GadgetMetadata metadata, GadgetHook? hook)
    {
        Name = name;
        Program = program;
        Metadata = metadata;
        Hook = hook;
        ObjectInfo = GadgetObjectReader.Read(program);
        Tracer = ObjectInfo.Tracers.Count switch
        {
            1 => ObjectInfo.Tracers[0],
            0 => throw new GadgetObjectException($"Gadget '{name}' declares no tracer (GADGET_TRACER)."),
            _ => throw new GadgetObjectException($"Gadget '{name}' declares {ObjectInfo.Tracers.Count} tracers; one object carries one."),
        };
        Schema = TraceSchema.Build(name, Tracer.Event, metadata);
        Parameters = GadgetParameters.Describe(ObjectInfo, metadata);
    }

    /// <summary>The name clients ask for (<c>exec</c>).</summary>
    public string Name { get; }

    public string Description => Metadata.Description;

    /// <summary>A gadget for benchmarks and diagnostics (flood), left out of completion.</summary>
    public bool Diagnostic => Metadata.Diagnostic;

    /// <summary>The compiled object (ELF).</summary>
    public byte[] Program { get; }

    public GadgetMetadata Metadata { get; }

    public GadgetObjectInfo ObjectInfo { get; }

    public TracerInfo Tracer { get; }

    /// <summary>What the trace's rows hold.</summary>
    public TraceSchema Schema { get; }

    public GadgetHook? Hook { get; }

    /// <summary>The parameters a request may set, by key.</summary>
    public IReadOnlyList<GadgetParameter> Parameters { get; }
}
