using Gadget.Schema;

namespace Gadget.Tracing;

/// <summary>Makes one event of a row, by the event type's constructor.</summary>
internal delegate GadgetEvent MakeEvent(in EventRow row, EventOrigin origin);

/// <summary>The event type of one trace: its binding to the trace's schema and its constructor.</summary>
internal sealed class EventMaker(EventBinding binding, MakeEvent make)
{
    public EventBinding Binding { get; } = binding;

    public GadgetEvent Make(in EventRow row, EventOrigin origin) => make(row, origin);
}

/// <summary>
/// Which event type a trace's rows become: the generated type its schema names (ExecEvent), or a
/// <see cref="GadgetRecord"/> when the client has none, so nothing a newer agent or a user's
/// program sends is lost.
/// </summary>
internal static partial class EventTypes
{
    public static EventMaker MakerFor(TraceSchema schema, long bootTimeUnixNs)
        => schema.TypeName is string typeName && Generated(typeName, schema, bootTimeUnixNs) is EventMaker maker
            ? maker
            : new EventMaker(new GadgetRecord.Binding(schema, bootTimeUnixNs), static (in EventRow row, EventOrigin origin) => new GadgetRecord(row, origin));

    /// <summary>The generated event types, by name; null for a name this client does not have.</summary>
    private static partial EventMaker? Generated(string typeName, TraceSchema schema, long bootTimeUnixNs);
}
